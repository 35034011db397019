"""Retention: `purge` erases only questions closed (delivered, rejected, withdrawn) longer
ago than PSY_RETENTION_DAYS, deletes expired API tokens, shows progress, is safe to run
again, and runs daily from Celery beat."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from psyconsole.questions import states
from psyconsole.questions.models import ApiToken, Question, Status
from psyconsole.questions.services.intake import do_submit_question, do_withdraw
from psyconsole.questions.services.tokens import do_issue_api_token
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def _withdrawn_at(monkeypatch: Any, when: Any, text: str) -> Question:
    """A question withdrawn at `when`: the clock is moved back for the move only, so its
    audit event (which the purge reads) carries that time."""
    question = do_submit_question(text).question
    monkeypatch.setattr(timezone, "now", lambda: when)
    try:
        do_withdraw(question)
    finally:
        monkeypatch.undo()
    return question


@pytest.fixture
def questions(monkeypatch: Any) -> dict[str, Question]:
    now = timezone.now()
    old = _withdrawn_at(monkeypatch, now - timedelta(days=400), "Old and closed question.")
    recent = _withdrawn_at(monkeypatch, now - timedelta(days=30), "Recently closed question.")
    old_open = make_drafted_question("Old but still open question.")
    return {"old": old, "recent": recent, "open": old_open}


def _status(question: Question) -> str:
    question.refresh_from_db()
    return question.status


def test_purge_erases_only_what_is_past_retention(questions: dict[str, Question],
                                                   settings: Any) -> None:
    settings.RETENTION_DAYS = 365
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert _status(questions["old"]) == Status.ERASED
    assert _status(questions["recent"]) == Status.WITHDRAWN
    assert _status(questions["open"]) == Status.DRAFTED
    assert "erased 1/1" in out.getvalue() and "Erased 1 question" in out.getvalue()
    event = questions["old"].audit_events.get(action="erase")
    assert event.actor_label == "system" and "retention" in event.reason

    # Safe to re-run: nothing left to do, nothing done twice.
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "Erased 0 question" in out.getvalue()
    assert questions["old"].audit_events.filter(action="erase").count() == 1

    # A shorter retention reaches the recent one too.
    call_command("purge", "--days", "7", stdout=io.StringIO())
    assert _status(questions["recent"]) == Status.ERASED
    assert _status(questions["open"]) == Status.DRAFTED


def test_zero_keeps_questions_forever_and_dry_run_changes_nothing(
        questions: dict[str, Question], settings: Any) -> None:
    settings.RETENTION_DAYS = 0
    call_command("purge", stdout=io.StringIO())
    assert _status(questions["old"]) == Status.WITHDRAWN
    out = io.StringIO()
    call_command("purge", "--days", "365", "--dry-run", stdout=out)
    assert "Would erase 1 question" in out.getvalue()
    assert _status(questions["old"]) == Status.WITHDRAWN


def test_purge_deletes_expired_tokens_only(counsellor: Any) -> None:
    do_issue_api_token(counsellor, hours=1)
    do_issue_api_token(counsellor, hours=1)
    ApiToken.objects.filter(pk=ApiToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().expires_at > timezone.now()
    assert "deleted 1 expired API token" in out.getvalue()


def test_an_erased_question_is_never_purged_again(questions: dict[str, Question]) -> None:
    states.erase(questions["old"], states.CLIENT, reason="test", data={}, text="[erased]")
    call_command("purge", stdout=io.StringIO())
    assert questions["old"].audit_events.filter(action="erase").count() == 1


def test_the_purge_runs_daily_from_celery_beat() -> None:
    from psyconsole.questions import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired"]
    assert entry["task"] == "psyconsole.questions.tasks.purge_expired"
    assert entry["schedule"] == 24 * 60 * 60
    assert tasks.purge_expired.name == entry["task"]
