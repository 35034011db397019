"""The export runs in the worker; the task imports its service inside the function."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_export(export_id: int) -> None:
    from psyconsole.exports.service import do_run_export

    do_run_export(export_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_retrain(run_id: int) -> None:
    # Redelivered while the first worker is still on it, it returns at once; after that
    # worker died, it continues the run (psyconsole.exports.retrain).
    from psyconsole.exports.retrain import do_run_retrain

    do_run_retrain(run_id)
