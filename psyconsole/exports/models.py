"""One row per export of annotated pairs: who asked, with which filters, how far it has
got, and the manifest of what it wrote. The files themselves live under EXPORT_DIR."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Export(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="exports")
    requested_by_label = models.CharField(max_length=150)
    filters = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    directory = models.CharField(max_length=500, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("export_annotations",
                        "Can export annotated pairs for retraining")]

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.state})"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.pk, "state": self.state, "filters": self.filters,
                "processed": self.processed, "total": self.total,
                "manifest": self.manifest, "error": self.error,
                "created_at": self.created_at, "finished_at": self.finished_at}


class RetrainRun(models.Model):
    """One round of the loop (`manage.py retrain`, the staff page or its Celery task):
    export, train, evaluate next to the current default, promote through the gate.
    Every step is written here as it happens (and audited), so a page can follow it and
    a re-run picks up where an interrupted one stopped."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Step(models.TextChoices):
        QUEUED = "queued", "Waiting for the worker"
        EXPORT = "export", "Exporting reviewed replies"
        TRAIN = "train", "Training"
        EVALUATE = "evaluate", "Evaluating on the held-out set"
        PROMOTE = "promote", "Deciding on promotion"
        DONE = "done", "Finished"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="retrain_runs")
    requested_by_label = models.CharField(max_length=150)
    # method, hyperparameters given, eval set, promote, export filters
    options = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, 0-100.")
    export = models.ForeignKey(Export, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="retrain_runs")
    base_version = models.CharField(max_length=128, blank=True,
                                    help_text="The default drafting model when it started.")
    new_version = models.ForeignKey("inference.ModelVersion", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="retrain_runs")
    # training record, and the evaluation of both versions on the same set
    figures = models.JSONField(default=dict, blank=True)
    promoted = models.BooleanField(default=False)
    decision = models.TextField(blank=True, help_text="Why it was promoted or not.")
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Retrain #{self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)
