from __future__ import annotations

from django.db import models


class Article(models.Model):
    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=1024, blank=True)
    source = models.CharField(max_length=200, blank=True)
    topics = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    audience = models.CharField(max_length=200, blank=True)
    last_reviewed = models.DateField(null=True, blank=True)
    body = models.TextField()
    content_hash = models.CharField(max_length=64)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A passage of an article; its id is the stable id used in the FAISS index."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    start_offset = models.PositiveIntegerField()
    end_offset = models.PositiveIntegerField()

    class Meta:
        ordering = ["article", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["article", "ordinal"], name="chunk_ordinal_unique"),
            models.CheckConstraint(condition=models.Q(end_offset__gt=models.F("start_offset")),
                                   name="chunk_offsets_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.article.slug}#{self.ordinal}"
