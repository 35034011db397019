"""Celery tasks: thin wrappers that import their service inside the function, so the
services can import the tasks (to queue them on commit) without an import cycle."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=3,
)
def draft_question(question_id: int, redraft: bool = False, instruction: str = "",
                   candidates: int = 1) -> int:
    """Drafts a reply for one question; a repeated delivery is a no-op."""
    from psyconsole.questions.services import drafting

    return len(drafting.do_generate_draft(question_id, redraft=redraft,
                                          instruction=instruction, candidates=candidates))


@shared_task(ignore_result=True)
def sweep_stuck_drafts() -> int:
    """Runs every DRAFT_SWEEP_SECONDS (Celery beat): requeues drafts whose worker died
    or whose task was lost."""
    from psyconsole.questions.services import drafting

    return len(drafting.do_sweep_stuck_drafts())


@shared_task(ignore_result=True)
def purge_expired() -> int:
    """Runs daily (Celery beat): erases questions past PSY_RETENTION_DAYS and deletes
    expired API tokens."""
    from psyconsole.questions.services import erasure

    return erasure.do_purge().erased


@shared_task(ignore_result=True)
def alert_sla_breaches() -> int:
    """Runs every SLA_ALERT_SECONDS (Celery beat): alerts supervisors, once a question,
    about high and imminent questions near their first-response deadline, unclaimed."""
    from psyconsole.questions.services import sla

    return len(sla.do_alert_sla_breaches())
