"""Reads for exports: which approved replies an export takes, and past exports."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from psyconsole.exports.models import Export
from psyconsole.questions.models import Draft, Review, Status


def reviews_to_export(*, since: object = None, until: object = None,
                      risk_levels: tuple[str, ...] = (), model_version: str | None = None,
                      audited_only: bool = False, human_only: bool = False
                      ) -> QuerySet[Review]:
    """Approved replies that reached their client, oldest first (so that an export is
    the same file whenever it is re-run on the same data), with each question's drafts
    prefetched in chunks.

    A question whose client asked for a reply without AI (`Question.human_only`) is
    never exported: they chose no AI, so their words and the reply to them never train
    a model either. `human_only=True` selects only those, to count what was left out."""
    reviews = (Review.objects
               .filter(decision=Review.Decision.APPROVED, question__status=Status.DELIVERED,
                       question__human_only=human_only)
               .select_related("question", "draft", "draft__model_version")
               .prefetch_related(Prefetch("question__drafts",
                                          queryset=Draft.objects.order_by("pk")),
                                 # what rubric_for_export reads, without a query per review
                                 "annotations", "annotation_assignments", "adjudications")
               .order_by("pk"))
    if since is not None:
        reviews = reviews.filter(created_at__date__gte=since)
    if until is not None:
        reviews = reviews.filter(created_at__date__lte=until)
    if risk_levels:
        reviews = reviews.filter(question__risk_level__in=risk_levels)
    if model_version:
        reviews = reviews.filter(draft__model_version__name=model_version)
    if audited_only:
        reviews = reviews.filter(audited_at__isnull=False)
    return reviews


def recent_exports(limit: int = 20) -> QuerySet[Export]:
    return Export.objects.select_related("requested_by")[:limit]
