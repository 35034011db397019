from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A drafting model that can be selected, evaluated and promoted."""

    class Backend(models.TextChoices):
        TRANSFORMERS = "transformers", "Local transformers"
        OPENAI = "openai", "OpenAI-compatible server"

    name = models.CharField(max_length=128, unique=True)
    backend = models.CharField(max_length=32, choices=Backend.choices,
                               default=Backend.TRANSFORMERS)
    base_model = models.CharField(max_length=255)
    path = models.CharField(max_length=1024, blank=True,
                            help_text="Local model directory; empty for the packaged default.")
    adapter_path = models.CharField(max_length=1024, blank=True)
    is_default = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="one_default_model_version"),
        ]

    def __str__(self) -> str:
        return self.name


class EvaluationRun(models.Model):
    """One evaluation of a model version on a held-out set (`manage.py evaluate`)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                      related_name="evaluations")
    eval_set = models.CharField(max_length=255)
    data_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model_version.name} on {self.eval_set}"
