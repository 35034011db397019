"""Services: every change to questions, drafts and reviews goes through here.

`check_*` functions validate and raise ValidationError; `do_*` functions change
state inside a transaction and queue side effects (tasks, pushes) on commit.
Status changes are delegated to `states.transition`, the state machine's only writer.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from psyconsole.questions import events, selectors, states
from psyconsole.questions.models import (
    Annotation,
    ApiToken,
    Draft,
    Question,
    ReplyEdit,
    Review,
    RiskLevel,
    Status,
)
from psyconsole.questions.states import Actor, TransitionError
from psyconsole.screening import screen
from psyconsole.screening.levels import LEVELS, at_least

if TYPE_CHECKING:
    from inference.drafting import ComposedDraft

logger = logging.getLogger(__name__)

MAX_CONTACT_CHARS = 254
MAX_REASON_CHARS = 2000
MAX_REPLY_CHARS = 20000
MAX_IDEMPOTENCY_KEY_CHARS = 255


# --- checks -------------------------------------------------------------------------

def check_text(value: object, *, field: str, max_chars: int, required: bool = True) -> str:
    """Returns the cleaned text, or raises ValidationError saying what is wrong."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: f"{field} must be a string."})
    if "\x00" in value:
        raise ValidationError({field: f"{field} must not contain NUL characters."})
    if "\ufffd" in value:
        # What a decoder leaves for bytes that were not valid UTF-8.
        raise ValidationError({field: f"{field} contains characters that are not valid "
                                      "UTF-8."})
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        # A lone surrogate ("\ud800" in JSON) decodes but can never be stored or hashed.
        raise ValidationError({field: f"{field} contains a lone surrogate, which is not "
                                      "valid Unicode text."})
    cleaned = unicodedata.normalize("NFC", value).strip()
    if required and not cleaned:
        raise ValidationError({field: f"{field} must not be empty."})
    if len(cleaned) > max_chars:
        raise ValidationError({field: f"{field} must be at most {max_chars} characters "
                                      f"(got {len(cleaned)})."})
    return cleaned


def check_question_text(value: object) -> str:
    return check_text(value, field="text", max_chars=settings.QUESTION_MAX_CHARS)


def check_contact(value: object) -> str:
    return check_text(value, field="contact", max_chars=MAX_CONTACT_CHARS, required=False)


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable():
        raise ValidationError({"Idempotency-Key": "Idempotency-Key must be 1 to 255 printable "
                                                  "characters."})
    return key


def check_can(user: AbstractBaseUser, permission: str) -> None:
    if not user.is_authenticated or not user.has_perm(permission):
        raise PermissionDenied(f"You do not have permission to do this ({permission}).")


def check_holds_claim(question: Question, user: AbstractBaseUser) -> None:
    if question.status != Status.IN_REVIEW:
        raise TransitionError(f"Question #{question.pk} is {question.status}; only a question "
                              "you have claimed for review can be changed.")
    if question.claimed_by_id != user.pk:
        raise TransitionError(f"Question #{question.pk} is claimed by someone else.")
    if question.claim_expires_at and question.claim_expires_at < timezone.now():
        raise TransitionError(f"Your claim on question #{question.pk} has expired; claim it "
                              "again.")


# --- intake -------------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    question: Question
    created: bool


def _fingerprint(text: str, contact: str) -> str:
    return hashlib.sha256(f"{text}\x00{contact}".encode()).hexdigest()


def _replay(key: str, fingerprint: str) -> Question | None:
    """The question first stored under `key`, if the request repeats it exactly.

    A key reused for a different question is refused rather than answered with the
    first question, so a guessed key never reveals someone else's tracking code."""
    existing = Question.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise ValidationError({"Idempotency-Key": "This Idempotency-Key was already used "
                                                  "for a different question."})
    return existing


def do_submit_question(text: object, contact: object = None,
                       idempotency_key: str | None = None, *,
                       background: bool = False) -> Submission:
    """Stores, screens and queues a client question. Screening never uses the model.

    `background` drafts it after every live question (used for bulk imports and demo
    data, so they never hold up a real client)."""
    text = check_question_text(text)
    contact = check_contact(contact)
    key = check_idempotency_key(idempotency_key)
    fingerprint = _fingerprint(text, contact)
    if key is not None:
        existing = _replay(key, fingerprint)
        if existing is not None:
            return Submission(existing, created=False)

    result = screen(text)
    try:
        with transaction.atomic():
            question = states.create_received(
                actor=states.CLIENT, text=text, contact=contact, idempotency_key=key,
                request_fingerprint=fingerprint,
            )
            states.transition(
                question, Status.SCREENED, states.SCREENER,
                reason=f"risk {result.risk_level}",
                data={"factors": [f.factor for f in result.factors]},
                risk_level=result.risk_level, risk_factors=result.factors_as_json(),
                priority=result.priority, topics=result.topics,
            )
            events.question_changed(question.pk, question.status, question.risk_level)
            if result.is_crisis:
                events.crisis_alert(question.pk, question.risk_level)
            queue_draft(question, background=background)
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        if key is None:
            raise
        return Submission(_replay(key, fingerprint), created=False)
    logger.info("Question #%s received, risk %s", question.pk, question.risk_level)
    return Submission(question, created=True)


# Broker priorities, 0 first: the riskiest questions are drafted first.
DRAFT_PRIORITY = {
    RiskLevel.IMMINENT: 0,
    RiskLevel.HIGH: 0,
    RiskLevel.MODERATE: 3,
    RiskLevel.LOW: 6,
    RiskLevel.NONE: 6,
}


BACKGROUND_PRIORITY = 9


def queue_draft(question: Question, *, redraft: bool = False, background: bool = False,
                instruction: str = "", candidates: int = 1) -> None:
    """Queues drafting after commit. If the broker is down, the question simply waits in
    the queue; counsellors can still claim and answer it."""
    from psyconsole.questions.tasks import draft_question

    question_id = question.pk
    priority = DRAFT_PRIORITY[RiskLevel(question.risk_level)]
    if background and priority > 0:  # a crisis is never put in the background
        priority = BACKGROUND_PRIORITY

    def enqueue() -> None:
        try:
            from psyconsole.embedded_redis import ensure_configured_redis

            ensure_configured_redis()
            draft_question.apply_async(
                (question_id,),
                {"redraft": redraft, "instruction": instruction, "candidates": candidates},
                priority=priority)
        except Exception:
            logger.warning("Could not queue drafting for question #%s", question_id,
                           exc_info=True)

    transaction.on_commit(enqueue)


def do_withdraw(question: Question) -> Question:
    question = states.transition(question, Status.WITHDRAWN, states.CLIENT,
                                 reason="withdrawn by the client", claimed_by=None,
                                 claim_expires_at=None)
    events.question_changed(question.pk, question.status, question.risk_level)
    return question


# --- drafting (the worker) ---------------------------------------------------------

REDRAFT_INSTRUCTIONS = ("shorter", "warmer", "more practical")
MAX_CANDIDATES = 3
STREAM_INTERVAL_SECONDS = 0.25
CANCEL_POLL_SECONDS = 0.5


class _DraftWatch:
    """Streams text to the console at most every STREAM_INTERVAL_SECONDS, and notices a
    counsellor's cancel, or the question leaving drafting altogether (approved without a
    draft, closed, withdrawn: its lease is then cleared), by polling the database at most
    every CANCEL_POLL_SECONDS."""

    def __init__(self, question_id: int) -> None:
        self.question_id = question_id
        self.candidate = 0
        self._sent_at = 0.0
        self._polled_at = 0.0
        self.cancelled = False

    def on_text(self, text: str) -> None:
        now = time.monotonic()
        if now - self._sent_at >= STREAM_INTERVAL_SECONDS:
            self._sent_at = now
            events.draft_progress(self.question_id, text, self.candidate)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self._polled_at >= CANCEL_POLL_SECONDS:
            self._polled_at = now
            self.cancelled = Question.objects.filter(
                Q(cancel_requested_at__isnull=False) | Q(drafting_lease_expires_at__isnull=True),
                pk=self.question_id).exists()
        return self.cancelled


def check_redraft_request(instruction: object, candidates: object) -> tuple[str, int]:
    instruction = check_text(instruction, field="instruction", max_chars=200, required=False)
    if not isinstance(candidates, int) or isinstance(candidates, bool) or not (
            1 <= candidates <= MAX_CANDIDATES):
        raise ValidationError({"candidates": f"candidates must be 1 to {MAX_CANDIDATES}."})
    return instruction, candidates


def _expire_drafting_lease(question: Question, actor: Actor, now: datetime) -> bool:
    """Ends a drafting lease that lapsed (its worker died): an unclaimed question returns
    to `screened`, a claimed one stays claimed. False if someone else got there first."""
    return states.expire_drafting_lease(question, actor, now)


# Crisis questions are drafted alone, at the top priority, never in a batch.
NEVER_BATCHED = [level for level in LEVELS if at_least(level, "high")]


def _start_drafting(question_id: int, *, redraft: bool, instruction: str
                    ) -> tuple[Question, datetime] | None:
    """Takes the drafting lease on a question with one conditional UPDATE; None if the
    question is gone, already drafted, or being drafted under a live lease.

    A question a counsellor claimed before its first draft is drafted too: the lease
    sits beside the claim (see states.py), and the draft is shown beside their text."""
    question = Question.objects.filter(pk=question_id).first()
    if question is None:
        return None
    now = timezone.now()
    if (question.status in (Status.DRAFTING, Status.IN_REVIEW)
            and question.drafting_lease_expires_at
            and question.drafting_lease_expires_at < now
            and not _expire_drafting_lease(question, states.WORKER, now)):
        return None
    lease = now + timedelta(seconds=settings.DRAFT_LEASE_SECONDS)
    startable = {Status.SCREENED, Status.DRAFTED} if redraft else {Status.SCREENED}
    if not redraft and not question.drafts.exists():
        startable.add(Status.IN_REVIEW)  # claimed before its first draft
    try:
        question = states.start_drafting(
            question, states.WORKER, lease, from_states=startable,
            reason=instruction or ("redraft requested" if redraft else ""))
    except TransitionError:
        logger.info("Question #%s is not waiting for a draft; skipped", question_id)
        return None
    events.question_changed(question.pk, question.status, question.risk_level)
    return question, lease


def _give_back(question: Question, lease: datetime, action: str, reason: str) -> None:
    """Ends the lease without a draft (failed or cancelled); a claimed question stays
    claimed. The audit event is what the console shows as "drafting failed"."""
    back_to = Status.DRAFTED if question.drafts.exists() else Status.SCREENED
    with transaction.atomic():
        try:
            now_status = states.end_drafting(question, states.WORKER, lease, action=action,
                                             unclaimed_to=back_to, reason=reason)
        except TransitionError:
            return
        events.question_changed(question.pk, now_status, question.risk_level)
        events.drafting_ended(question.pk, action)


def _finish_drafting(question: Question, lease: datetime, composed: list[ComposedDraft],
                     instruction: str = "") -> list[Draft]:
    from inference.registry import ensure_model_version

    with transaction.atomic():
        try:
            # A question claimed meanwhile stays claimed: the draft is added beside the
            # counsellor's text, never over it (the worker never writes ReplyEdit).
            now_status = states.end_drafting(
                question, states.WORKER, lease, action="drafted", unclaimed_to=Status.DRAFTED,
                data={"model_version": composed[0].model_name, "candidates": len(composed)})
        except TransitionError:
            logger.info("Question #%s changed while drafting; draft discarded", question.pk)
            return []
        drafts = [
            Draft.objects.create(
                question=question,
                model_version=ensure_model_version(c.model_name, c.backend),
                text=c.text, raw_text=c.raw_text, prompt=c.messages,
                prompt_version=c.prompt_version, instruction=instruction, candidate=i,
                passages=[p.as_dict() for p in c.passages], findings=c.findings,
                engine=c.engine, timings=c.timings, prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
            )
            for i, c in enumerate(composed)
        ]
        events.question_changed(question.pk, now_status, question.risk_level)
        events.drafting_ended(question.pk, "drafted", drafts[0].text)
    return drafts


def do_generate_draft(question_id: int, *, redraft: bool = False, instruction: str = "",
                      candidates: int = 1) -> list[Draft]:
    """Drafts a reply (and up to two sampled alternatives) for one question, streaming
    the text to the console as it is written. Safe to call twice: a question that
    already has a draft, or is being drafted under a live lease, is left alone.

    A plain first draft for a question below high risk also takes other questions
    waiting for their first draft, up to DRAFT_BATCH_SIZE, and drafts them together
    (see do_generate_drafts_together)."""
    from inference.drafting import compose_draft

    started = _start_drafting(question_id, redraft=redraft, instruction=instruction)
    if started is None:
        return []
    question, lease = started
    if (not redraft and candidates == 1 and settings.DRAFT_BATCH_SIZE > 1
            and question.risk_level not in NEVER_BATCHED):
        return do_generate_drafts_together([(question, lease)])[question.pk]

    watch = _DraftWatch(question.pk)
    composed = []
    try:
        for candidate in range(candidates):
            watch.candidate = candidate
            composed.append(compose_draft(
                question.text, risky=question.is_risky, instruction=instruction,
                risk_level=question.risk_level, factors=question.risk_factors,
                on_text=watch.on_text, should_stop=watch.should_stop,
                sample_seed=None if candidate == 0 else candidate,
                passages=composed[0].passages if composed else None,  # retrieve once
            ))
            if watch.cancelled:
                break
    except Exception:
        _give_back(question, lease, "draft_failed", "drafting raised an error")
        raise
    if watch.cancelled:
        _give_back(question, lease, "draft_cancelled", "cancelled by a counsellor")
        return []
    return _finish_drafting(question, lease, composed, instruction)


def _take_waiting_questions(limit: int, exclude: set[int]) -> list[tuple[Question, datetime]]:
    """Leases up to `limit` more questions waiting for a first draft, most urgent first;
    their own queued tasks then find them taken and do nothing."""
    taken: list[tuple[Question, datetime]] = []
    waiting = (Question.objects.filter(status=Status.SCREENED, drafts__isnull=True)
               .exclude(pk__in=exclude)
               .exclude(risk_level__in=NEVER_BATCHED)
               .order_by("-priority", "created_at").values_list("pk", flat=True)[:limit * 2])
    for question_id in waiting:
        if len(taken) >= limit:
            break
        started = _start_drafting(question_id, redraft=False, instruction="")
        if started is not None:
            taken.append(started)
    return taken


def do_generate_drafts_together(leased: list[tuple[Question, datetime]]
                                ) -> dict[int, list[Draft]]:
    """Drafts several questions in one batch: on a CPU the model's weights are read once
    per step for the whole batch, so the queue clears several times faster. Each draft
    still streams to its own watchers and can be cancelled on its own."""
    from inference.drafting import DraftRequest, compose_drafts

    leased = leased + _take_waiting_questions(
        settings.DRAFT_BATCH_SIZE - len(leased), {q.pk for q, _ in leased})
    watches = [_DraftWatch(q.pk) for q, _ in leased]
    try:
        composed = compose_drafts([
            DraftRequest(q.text, q.is_risky, on_text=w.on_text, should_stop=w.should_stop,
                         risk_level=q.risk_level, factors=q.risk_factors)
            for (q, _), w in zip(leased, watches, strict=True)])
    except Exception:
        for question, lease in leased:
            _give_back(question, lease, "draft_failed", "drafting raised an error")
        raise
    results: dict[int, list[Draft]] = {}
    for (question, lease), watch, draft in zip(leased, watches, composed, strict=True):
        if watch.cancelled:
            _give_back(question, lease, "draft_cancelled", "cancelled by a counsellor")
            results[question.pk] = []
        else:
            results[question.pk] = _finish_drafting(question, lease, [draft])
    return results


def do_cancel_draft(question: Question, user: AbstractBaseUser) -> None:
    """Asks the worker to stop the draft in progress; it notices within a second."""
    check_can(user, "questions.claim_question")
    question.refresh_from_db()
    if question.status == Status.IN_REVIEW:
        check_holds_claim(question, user)
    try:
        states.request_cancel(question, Actor.of(user))
    except TransitionError as exc:
        raise TransitionError(f"Question #{question.pk} is not being drafted.") from exc


def do_sweep_stuck_drafts() -> list[int]:
    """Requeues questions whose drafting stalled: a lapsed drafting lease (the worker
    died mid-draft) or a screened question left without a draft for too long (its task
    was lost). Re-queuing is safe because drafting is idempotent."""
    now = timezone.now()
    requeued = []
    for question in Question.objects.filter(status__in=[Status.DRAFTING, Status.IN_REVIEW],
                                            drafting_lease_expires_at__lt=now):
        if _expire_drafting_lease(question, states.SYSTEM, now):
            queue_draft(question)
            requeued.append(question.pk)
    waiting_since = now - timedelta(seconds=settings.DRAFT_REQUEUE_AFTER_SECONDS)
    # A claimed question still waiting for its first draft is drafted beside the claim.
    for question in Question.objects.filter(Q(status=Status.SCREENED) | Q(
            status=Status.IN_REVIEW, drafting_lease_expires_at__isnull=True),
            drafts__isnull=True, updated_at__lt=waiting_since):
        # Touching updated_at spaces the requeues out, so a long but healthy queue is
        # not flooded with duplicate tasks.
        Question.objects.filter(pk=question.pk).update(updated_at=now)
        queue_draft(question)
        requeued.append(question.pk)
    if requeued:
        logger.info("Requeued drafting for %s stuck questions", len(requeued))
    return requeued


def do_request_redraft(question: Question, user: AbstractBaseUser, instruction: object = "",
                       candidates: object = 1) -> None:
    """Queues a new draft, optionally with an instruction ("shorter", "warmer", "more
    practical", or the counsellor's own words) and up to three candidates."""
    check_can(user, "questions.claim_question")
    instruction, candidates = check_redraft_request(instruction, candidates)
    if question.status not in (Status.SCREENED, Status.DRAFTED):
        raise TransitionError(f"Question #{question.pk} is {question.status}; release it "
                              "before asking for a new draft.")
    states.record_event(question, Actor.of(user), "redraft_requested",
                        from_state=question.status, to_state=question.status,
                        reason=instruction, data={"candidates": candidates})
    queue_draft(question, redraft=question.status == Status.DRAFTED,
                instruction=instruction, candidates=candidates)


# --- the console -------------------------------------------------------------------

def _lease_end() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.CLAIM_LEASE_SECONDS)


# Where a counsellor may claim from: every open state but `received` (not yet screened,
# which takes milliseconds) and `in_review` (already claimed; renewed below). Drafting
# included: a crisis is never blocked by the model.
CLAIMABLE = frozenset({Status.SCREENED, Status.DRAFTING, Status.DRAFTED, Status.ESCALATED})
TAKE_NEXT = [Status.SCREENED, Status.DRAFTING, Status.DRAFTED]


def do_claim(question: Question, user: AbstractBaseUser) -> Question:
    """Claims a question for review. A claim is a lease: it lapses if abandoned.

    A question being drafted can be claimed too: the worker keeps writing beside the
    claim, and the counsellor can write their own reply at once."""
    check_can(user, "questions.claim_question")
    now = timezone.now()
    question.refresh_from_db()
    if question.status == Status.ESCALATED:
        check_can(user, "questions.audit_reply")
    if question.status == Status.IN_REVIEW:
        # Renew our own claim, or take over one whose lease has lapsed.
        previous = question.claimed_by_id
        try:
            question = states.renew_claim(
                question, user, _lease_end(), now=now,
                reason="renewed" if previous == user.pk else "lapsed claim taken over")
        except TransitionError as exc:
            raise TransitionError(f"Question #{question.pk} is claimed by someone "
                                  "else.") from exc
        return question
    question = states.claim(question, user, _lease_end(), from_states=CLAIMABLE,
                            first_claimed_at=Coalesce(F("first_claimed_at"), Value(now)))
    events.question_changed(question.pk, question.status, question.risk_level)
    return question


def do_write_without_draft(question: Question, user: AbstractBaseUser) -> Question:
    """The counsellor chooses not to wait for the model: claims the question (if not
    already theirs) and writes the reply themselves. Their text goes through the same
    final-text check as any reply."""
    question.refresh_from_db()
    if not (question.status == Status.IN_REVIEW and question.claimed_by_id == user.pk):
        question = do_claim(question, user)
    states.record_event(question, Actor.of(user), "write_without_draft",
                        from_state=question.status, to_state=question.status,
                        data={"drafting": states.is_drafting(question)})
    return question


def do_take_next(user: AbstractBaseUser) -> Question | None:
    """Claims the most urgent unclaimed question (risk, then SLA, then age), drafting or
    not. Rows another counsellor is claiming at this moment are skipped (SKIP LOCKED),
    and the claim itself is a conditional update, so two counsellors never get the same
    question."""
    check_can(user, "questions.claim_question")
    for _ in range(5):
        with transaction.atomic():
            candidate = (selectors.queue()
                         .filter(status__in=TAKE_NEXT)
                         .select_for_update(skip_locked=True, of=("self",))
                         .first())
            if candidate is None:
                return None
            try:
                return do_claim(candidate, user)
            except TransitionError:
                continue  # taken between our read and our update; try the next one
    return None


def do_override_risk(question: Question, user: AbstractBaseUser, risk_level: object,
                     reason: object) -> Question:
    """A counsellor corrects the screener. The change is audited and kept as a labelled
    example for retraining it."""
    from psyconsole.questions.models import ScreeningLabel
    from psyconsole.screening.levels import PRIORITY

    check_can(user, "questions.claim_question")
    if risk_level not in RiskLevel.values:
        raise ValidationError({"risk_level": "risk_level must be one of "
                                             f"{', '.join(RiskLevel.values)}."})
    reason = check_text(reason, field="reason", max_chars=MAX_REASON_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        previous = question.risk_level
        Question.objects.filter(pk=question.pk).update(
            risk_level=risk_level, priority=PRIORITY[risk_level], updated_at=timezone.now())
        ScreeningLabel.objects.create(question=question, text=question.text,
                                      screened_level=previous, risk_level=risk_level,
                                      reason=reason, author=user)
        states.record_event(question, Actor.of(user), "risk_override",
                            from_state=question.status, to_state=question.status,
                            reason=reason, data={"from": previous, "to": risk_level})
        question.refresh_from_db()
        events.question_changed(question.pk, question.status, question.risk_level)
        if at_least(question.risk_level, RiskLevel.HIGH) and question.claimed_by_id is None:
            events.crisis_alert(question.pk, question.risk_level)
    return question


def do_release(question: Question, user: AbstractBaseUser, reason: str = "") -> Question:
    check_can(user, "questions.claim_question")
    question.refresh_from_db()
    check_holds_claim(question, user)
    now = timezone.now()
    condition = Q(claimed_by=user)
    if question.drafting_lease_expires_at and question.drafting_lease_expires_at > now:
        # The worker is still writing: the question goes back to drafting, lease intact.
        back_to = Status.DRAFTING
        condition &= Q(drafting_lease_expires_at__gt=now)
    else:
        back_to = Status.DRAFTED if question.drafts.exists() else Status.SCREENED
    question = states.transition(
        question, back_to, Actor.of(user), action="release", reason=reason,
        extra_condition=condition, claimed_by=None, claim_expires_at=None,
    )
    events.question_changed(question.pk, question.status, question.risk_level)
    if back_to == Status.SCREENED:
        queue_draft(question)
    return question


def do_save_edit(question: Question, user: AbstractBaseUser, text: object) -> ReplyEdit:
    check_can(user, "questions.claim_question")
    text = check_text(text, field="text", max_chars=MAX_REPLY_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        check_holds_claim(question, user)
        edit = ReplyEdit.objects.create(question=question, author=user, text=text,
                                        based_on=selectors.current_draft(question))
        states.record_event(question, Actor.of(user), "edit", from_state=question.status,
                            to_state=question.status, data={"edit_id": edit.pk,
                                                             "chars": len(text)})
    return edit


def current_reply_text(question: Question) -> str:
    edit = question.edits.first()
    if edit is not None:
        return edit.text
    draft = selectors.current_draft(question)
    return draft.text if draft is not None else ""


MIN_OVERRIDE_REASON_CHARS = 10


class ReplyBlocked(ValidationError):
    """The final text has blocking guardrail findings and no override was given."""

    def __init__(self, findings: list[dict[str, str]]) -> None:
        self.findings = findings
        blocking = [f for f in findings if f["severity"] == "block"]
        listed = "; ".join(f"{f['rule']}" + (f" \u201c{f['excerpt']}\u201d" if f["excerpt"]
                                              else "") for f in blocking)
        self.detail = (f"Not sent: the reply has {len(blocking)} blocking finding"
                       f"{'' if len(blocking) == 1 else 's'} ({listed}). Change the text, or "
                       "override with a written reason.")
        super().__init__({"text": [self.detail]})


def check_override_reason(value: object) -> str | None:
    """None when no override is asked for; otherwise the cleaned reason."""
    if value is None:
        return None
    reason = check_text(value, field="override_reason", max_chars=MAX_REASON_CHARS)
    if len(reason) < MIN_OVERRIDE_REASON_CHARS:
        raise ValidationError({"override_reason": "override_reason must say why, in at least "
                                                  f"{MIN_OVERRIDE_REASON_CHARS} characters."})
    return reason


def _reply_basis(question: Question) -> Draft | None:
    """The draft the current reply is based on: the latest edit's, or the current draft
    when the reply is that draft as it stands; None when written without one."""
    edit = question.edits.first()
    if edit is not None:
        return edit.based_on
    return selectors.current_draft(question)


def check_final_text(question: Question, text: str, basis: Draft | None
                     ) -> list[dict[str, str]]:
    """The guardrails run on the counsellor's final text (inference.guardrails.check_reply),
    against the sources of the draft it is based on."""
    from inference.guardrails import check_reply

    passages = basis.passages if basis is not None else []
    findings = check_reply(
        text, risky=question.is_risky, passage_count=len(passages),
        allowed_urls=[p.get("url", "") for p in passages if p.get("url")],
        crisis=at_least(question.risk_level, RiskLevel.HIGH))
    return [f.as_dict() for f in findings]


def do_approve(question: Question, user: AbstractBaseUser, text: object = None,
               override_reason: object = None) -> Review:
    """A named professional approves the reply; it is then delivered to the client.

    The final text is checked first. Blocking findings (doses, medication advice,
    diagnosis, unlisted numbers or links, missing crisis resources on a risky question)
    stop the approval with ReplyBlocked, unless `override_reason` says why it must go as
    it is: the override is audited and stored on the Review for the supervisor."""
    check_can(user, "questions.approve_reply")
    override = check_override_reason(override_reason)
    if text is not None:
        text = check_text(text, field="text", max_chars=MAX_REPLY_CHARS)
    actor = Actor.of(user)
    try:
        with transaction.atomic():
            question = Question.objects.select_for_update().get(pk=question.pk)
            check_holds_claim(question, user)
            if text is not None and text != current_reply_text(question):
                do_save_edit(question, user, text)
            final_text = check_text(current_reply_text(question), field="text",
                                    max_chars=MAX_REPLY_CHARS)
            basis = _reply_basis(question)
            findings = check_final_text(question, final_text, basis)
            blocking = [f for f in findings if f["severity"] == "block"]
            if blocking and override is None:
                raise ReplyBlocked(findings)
            review = Review.objects.create(
                question=question, draft=basis, reviewer=user,
                decision=Review.Decision.APPROVED, final_text=final_text,
                findings=findings, override_reason=override if blocking else "",
            )
            if blocking:
                states.record_event(question, actor, "guardrail_override",
                                    from_state=question.status, to_state=question.status,
                                    reason=override or "",
                                    data={"review_id": review.pk, "findings": blocking})
            states.transition(question, Status.APPROVED, actor, action="approve",
                              extra_condition=Q(claimed_by=user),
                              data={"review_id": review.pk,
                                    "findings": [f["rule"] for f in findings],
                                    "overridden": bool(blocking)},
                              claimed_by=None, claim_expires_at=None)
            states.transition(question, Status.DELIVERED, states.SYSTEM, action="deliver",
                              reason="published on the client's tracking page")
            events.question_changed(question.pk, Status.DELIVERED, question.risk_level)
    except ReplyBlocked as exc:
        # Nothing of the approval is written, but the refusal is audited.
        states.record_event(question, actor, "approval_blocked", from_state=question.status,
                            to_state=question.status, reason=exc.detail,
                            data={"findings": [f for f in exc.findings
                                               if f["severity"] == "block"]})
        raise
    return review


def _close_with_review(question: Question, user: AbstractBaseUser, decision: str,
                       to_state: str, reason: object) -> Review:
    reason = check_text(reason, field="reason", max_chars=MAX_REASON_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.status == Status.IN_REVIEW:
            check_holds_claim(question, user)
        review = Review.objects.create(question=question, draft=selectors.current_draft(question),
                                       reviewer=user, decision=decision, reason=reason)
        states.transition(question, to_state, Actor.of(user), action=decision, reason=reason,
                          data={"review_id": review.pk}, claimed_by=None,
                          claim_expires_at=None)
        events.question_changed(question.pk, to_state, question.risk_level)
    return review


def do_reject(question: Question, user: AbstractBaseUser, reason: object) -> Review:
    check_can(user, "questions.approve_reply")
    return _close_with_review(question, user, Review.Decision.REJECTED, Status.REJECTED, reason)


def do_escalate(question: Question, user: AbstractBaseUser, reason: object) -> Review:
    check_can(user, "questions.claim_question")
    review = _close_with_review(question, user, Review.Decision.ESCALATED, Status.ESCALATED,
                                reason)
    if question.is_risky:
        events.crisis_alert(question.pk, question.risk_level)
    return review


def do_annotate(review: Review, user: AbstractBaseUser, *, helpfulness: int | None = None,
                relevance: int | None = None, empathy: int | None = None,
                safety: int | None = None, tags: list[str] | None = None,
                note: object = "") -> Annotation:
    check_can(user, "questions.claim_question")
    if review.reviewer_id != user.pk and not user.has_perm("questions.audit_reply"):
        raise PermissionDenied("Only the reviewer or a supervisor can annotate this review.")
    ratings = {"helpfulness": helpfulness, "relevance": relevance, "empathy": empathy,
               "safety": safety}
    for name, value in ratings.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not 1 <= value <= 5):
            raise ValidationError({name: f"{name} must be a whole number from 1 to 5."})
    note = check_text(note, field="note", max_chars=MAX_REASON_CHARS, required=False)
    tags = [check_text(t, field="tags", max_chars=50) for t in tags or []][:20]
    with transaction.atomic():
        annotation = Annotation.objects.create(review=review, author=user, tags=tags,
                                               note=note, **ratings)
        question = review.question
        states.record_event(question, Actor.of(user), "annotate", from_state=question.status,
                            to_state=question.status, data={"annotation_id": annotation.pk})
    return annotation


def do_audit(review: Review, user: AbstractBaseUser, note: object = "") -> Review:
    check_can(user, "questions.audit_reply")
    note = check_text(note, field="note", max_chars=MAX_REASON_CHARS, required=False)
    if review.decision != Review.Decision.APPROVED:
        raise ValidationError({"review": "Only approved replies are audited."})
    with transaction.atomic():
        updated = Review.objects.filter(pk=review.pk, audited_at__isnull=True).update(
            audited_by=user, audited_at=timezone.now(), audit_note=note)
        if not updated:
            raise TransitionError(f"Review #{review.pk} has already been audited.")
        question = review.question
        states.record_event(question, Actor.of(user), "audit", from_state=question.status,
                            to_state=question.status, reason=note,
                            data={"review_id": review.pk})
    review.refresh_from_db()
    return review


# --- API tokens ----------------------------------------------------------------------

def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def do_issue_api_token(user: AbstractBaseUser, hours: int = 12) -> str:
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=_hash_token(token),
                            expires_at=timezone.now() + timedelta(hours=hours))
    states.record_event(None, Actor.of(user), "api_token_issued")
    return token


def user_for_api_token(token: str) -> AbstractBaseUser | None:
    found = (ApiToken.objects.select_related("user")
             .filter(key_hash=_hash_token(token), expires_at__gt=timezone.now()).first())
    if found is None or not found.user.is_active:
        return None
    return found.user
