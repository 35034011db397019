from django.contrib import admin

from inference.models import ModelVersion

admin.site.register(ModelVersion)
