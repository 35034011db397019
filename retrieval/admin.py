from django.contrib import admin

from retrieval.models import Article, Chunk


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "source", "last_reviewed")
    search_fields = ("title", "slug")


admin.site.register(Chunk)
