"""Erasure and retention: a client's text and contact removed from everywhere they were
copied, on the client's request, a supervisor's, or when retention runs out (`purge`).

What is copied where, and what erasure does with it:

- Question: `text` becomes ERASED_TEXT (a question row keeps non-empty text, by a
  constraint), `contact`, the idempotency key and the request fingerprint (a hash of
  text and contact, which a short phone number would make guessable) are cleared, and
  the risk factors lose their `evidence` (quoted spans of the text) and notes. The row
  stays, in the terminal `erased` status (states.py), for counts and the audit trail.
- Draft: `prompt` (the chat messages, with the client's text in them), `text`,
  `raw_text` (the model may quote the client), `findings` (excerpts), `passages` and the
  counsellor's `instruction` are blanked; the model version and token counts stay.
- ReplyEdit and Review: the counsellors' reply text (`text`, `final_text`) often quotes
  or addresses the client, and the review's guardrail findings hold excerpts of it: all
  blanked. Reviewers' reasons and audit notes are staff text and stay.
- Correction (a supervisor's follow-up reply after an audit): its `text` and `findings`
  are blanked like a review's. Feedback notes are staff text and stay.
- ScreeningLabel keeps a copy of the text as a training example: deleted (a label with
  no text teaches the screener nothing); the risk override stays in the audit trail.
- Annotations and adjudications hold ratings, tags and staff notes, no client copy.
- Exports: the JSONL files on disk hold the (PII-scrubbed) prompt and reply, and name no
  question, so every finished export that may hold this one (finished after its reply
  was approved) has its files deleted when the erasure commits, and is marked failed with
  the reason; an operator runs the export again. Deleting, not just flagging, because a
  flag does not stop a file from being copied into the next training run.
- Audit events: append-only, and they never hold client text (services/review.py leaves
  the guardrails' excerpts out of them, and migration 0011 scrubbed the ones written
  before), so the erasure only adds its own event, which records counts, not text.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import DateTimeField, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from psyconsole.exports.models import Export
from psyconsole.questions import limits, states
from psyconsole.questions.models import (
    AuditEvent,
    Correction,
    Draft,
    Question,
    ReplyEdit,
    Review,
    ScreeningLabel,
    Status,
)
from psyconsole.questions.services.checks import check_can, check_text
from psyconsole.questions.services.tokens import do_delete_expired_tokens
from psyconsole.questions.states import Actor, TransitionError

logger = logging.getLogger(__name__)

ERASED_TEXT = "[erased]"
PERMISSION = "questions.erase_question"
# Closed for good: retention counts from the move into one of these.
RETAINED_STATES = frozenset({Status.DELIVERED, Status.REJECTED, Status.WITHDRAWN})
_RISK_FACTOR_KEPT = ("factor", "level", "source")


def check_can_erase(user: AbstractBaseUser) -> None:
    check_can(user, PERMISSION)


def _exports_that_may_hold(question: Question) -> list[Export]:
    approved_at = (question.reviews.filter(decision=Review.Decision.APPROVED)
                   .values_list("created_at", flat=True).first())
    if approved_at is None:
        return []  # only approved replies are exported
    exports = (Export.objects.select_for_update()
               .filter(state=Export.State.DONE, finished_at__gte=approved_at)
               .exclude(directory=""))
    # An export whose date filter leaves the reply out cannot hold it (a day's margin for
    # time zones), so a purge does not delete every recent export.
    day = timezone.localtime(approved_at).date()
    margin = timedelta(days=1)
    held = []
    for export in exports:
        since, until = _filter_date(export, "since"), _filter_date(export, "until")
        if (since is not None and since > day + margin) or (
                until is not None and until < day - margin):
            continue
        held.append(export)
    return held


def _filter_date(export: Export, name: str) -> date | None:
    value = (export.filters or {}).get(name)
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _delete_files(directories: list[str]) -> None:
    for directory in directories:
        path = Path(directory)
        # Only ever below EXPORT_DIR: a directory column is not a licence to delete.
        if path.resolve().is_relative_to(Path(settings.EXPORT_DIR).resolve()):
            shutil.rmtree(path, ignore_errors=True)


def _erase(question: Question, actor: Actor, reason: str) -> Question:
    with transaction.atomic():
        # The row lock makes a worker that is ending its drafting lease wait for us
        # (then find the lease gone and discard its draft) or finish first (then its
        # draft is scrubbed below).
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.status == Status.ERASED:
            raise TransitionError(f"Question #{question.pk} is already erased.")
        drafts = Draft.objects.filter(question=question).update(
            text=ERASED_TEXT, raw_text="", prompt=[], findings=[], passages=[],
            instruction="")
        edits = ReplyEdit.objects.filter(question=question).update(text=ERASED_TEXT)
        reviews = (Review.objects.filter(question=question).exclude(final_text="")
                   .update(final_text=ERASED_TEXT, findings=[]))
        # A supervisor's correction is a reply to the client too (services/supervision.py).
        corrections = Correction.objects.filter(review__question=question).update(
            text=ERASED_TEXT, findings=[])
        labels, _ = ScreeningLabel.objects.filter(question=question).delete()
        exports = _exports_that_may_hold(question)
        when = timezone.now()
        for export in exports:
            export.state = Export.State.FAILED
            export.error = (f"Files deleted on {when:%Y-%m-%d}: they may have held a "
                            f"question erased at a client's request. Run the export again.")
            export.save(update_fields=["state", "error"])
        directories = [export.directory for export in exports]
        transaction.on_commit(lambda: _delete_files(directories))
        question = states.erase(
            question, actor, reason=reason,
            # Counts only: the audit trail says what happened, never what was written.
            data={"drafts": drafts, "edits": edits, "reviews": reviews,
                  "corrections": corrections,
                  "screening_labels": labels,
                  "exports_deleted": [export.pk for export in exports]},
            text=ERASED_TEXT, contact="", idempotency_key=None, request_fingerprint="",
            risk_factors=[{k: f[k] for k in _RISK_FACTOR_KEPT if k in f}
                          for f in question.risk_factors or [] if isinstance(f, dict)],
        )
    logger.info("Question #%s erased by %s", question.pk, actor.label)
    return question


def do_erase_by_client(question: Question) -> Question:
    """The client erases their own question (tracking page or API): the tracking code is
    their proof, as it is for withdrawing."""
    return _erase(question, states.CLIENT, "erased at the client's request")


def do_erase_on_request(question: Question, user: AbstractBaseUser, reason: object
                        ) -> Question:
    """A supervisor erases a question on a client's request made elsewhere (by email or
    phone), with a reason for the audit trail."""
    check_can_erase(user)
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    return _erase(question, Actor.of(user), reason)


def closed_before(cutoff: datetime) -> Any:
    """Questions closed for good (RETAINED_STATES) before `cutoff`. When they closed is
    the audit event of the move into their status (their `updated_at` if none), not
    `updated_at` itself, which a later admin change would move on."""
    closed_at = (AuditEvent.objects.filter(question=OuterRef("pk"), to_state=OuterRef("status"))
                 .exclude(from_state=F("to_state")).order_by("-created_at")
                 .values("created_at")[:1])
    return (Question.objects.filter(status__in=RETAINED_STATES)
            .annotate(closed_at=Coalesce(Subquery(closed_at, output_field=DateTimeField()),
                                         F("updated_at")))
            .filter(closed_at__lt=cutoff))


@dataclass
class PurgeResult:
    erased: int = 0
    skipped: int = 0
    tokens_deleted: int = 0


def do_purge(days: int | None = None, *, now: datetime | None = None,
             progress: Callable[[int, int], None] | None = None) -> PurgeResult:
    """Erases questions closed more than `days` (default PSY_RETENTION_DAYS; 0 keeps them
    forever) ago and deletes expired API tokens. One transaction per question, so an
    interrupted purge keeps what it did, and a re-run finds only what is left (erased
    questions are no longer in a closed state it selects)."""
    days = settings.RETENTION_DAYS if days is None else days
    now = now or timezone.now()
    result = PurgeResult(tokens_deleted=do_delete_expired_tokens(now))
    if days <= 0:
        return result
    ids = list(closed_before(now - timedelta(days=days)).order_by("pk")
               .values_list("pk", flat=True))
    actor = states.SYSTEM
    reason = f"retention: closed more than {days} days ago"
    for done, pk in enumerate(ids, start=1):
        try:
            _erase(Question(pk=pk), actor, reason)
            result.erased += 1
        except (TransitionError, Question.DoesNotExist):
            result.skipped += 1  # erased or changed by someone else meanwhile
        if progress is not None:
            progress(done, len(ids))
    if result.erased or result.tokens_deleted:
        logger.info("Purge: %s questions erased, %s expired tokens deleted",
                    result.erased, result.tokens_deleted)
    return result
