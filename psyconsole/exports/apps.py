from __future__ import annotations

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "psyconsole.exports"
    label = "exports"
    verbose_name = "Exports for retraining"
    default_auto_field = "django.db.models.BigAutoField"
