"""Drafting, the worker's protocol: the drafting lease and its heartbeat, batching,
streaming, cancel, and the sweeper that requeues stalled drafts."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from psyconsole.questions import events, limits, states
from psyconsole.questions.models import (
    Draft,
    Question,
    RiskLevel,
    Status,
)
from psyconsole.questions.services.checks import check_can, check_holds_claim, check_text
from psyconsole.questions.states import Actor, TransitionError
from psyconsole.questions.tasks import draft_question
from psyconsole.screening.levels import CRISIS_LEVELS

if TYPE_CHECKING:
    from inference.drafting import ComposedDraft

logger = logging.getLogger(__name__)


# Broker priorities, 0 first: the riskiest questions are drafted first.
DRAFT_PRIORITY = {
    RiskLevel.IMMINENT: 0,
    RiskLevel.HIGH: 0,
    RiskLevel.MODERATE: 3,
    RiskLevel.LOW: 6,
    RiskLevel.NONE: 6,
}


BACKGROUND_PRIORITY = 9


def check_can_draft(question: Question) -> None:
    """Raises TransitionError (a 409) for a question whose client asked for a reply
    written without AI: the model never drafts it, whoever asks."""
    if question.human_only or _is_human_only(question.pk):
        raise TransitionError(f"The client asked for a reply written without AI: question "
                              f"#{question.pk} is never sent to the model. Write the reply "
                              "yourself.")


def _is_human_only(question_id: int) -> bool:
    """Read from the database, not from an object a caller may have built or kept."""
    return Question.objects.filter(pk=question_id, human_only=True).exists()


def queue_draft(question: Question, *, redraft: bool = False, background: bool = False,
                instruction: str = "", candidates: int = 1) -> None:
    """Queues drafting after commit. If the broker is down, the question simply waits in
    the queue; counsellors can still claim and answer it.

    A question whose client asked for a reply without AI (`human_only`) is never queued:
    every path that asks for a draft (intake, release, the sweeper, a redraft) comes
    through here, and the worker refuses it too (`_start_drafting`)."""
    if question.human_only:
        return
    question_id = question.pk
    priority = DRAFT_PRIORITY[RiskLevel(question.risk_level)]
    if background and priority > 0:  # a crisis is never put in the background
        priority = BACKGROUND_PRIORITY

    def enqueue() -> None:
        try:
            draft_question.apply_async(
                (question_id,),
                {"redraft": redraft, "instruction": instruction, "candidates": candidates},
                priority=priority)
        except Exception:
            logger.warning("Could not queue drafting for question #%s", question_id,
                           exc_info=True)

    transaction.on_commit(enqueue)


REDRAFT_INSTRUCTIONS = ("shorter", "warmer", "more practical")
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


# A draft still going after this long is taken to be hung: its lease is no longer renewed,
# so it lapses and the sweeper gives the question to another worker.
LEASE_RENEWAL_LIMIT_SECONDS = 30 * 60


class _LeaseKeeper:
    """The drafting lease's heartbeat. While the worker drafts, a thread renews every
    lease it holds each third of DRAFT_LEASE_SECONDS, so a lease lapses only when its
    worker is gone (or hung), and the sweeper frees a dead worker's questions within a
    lease however long drafts take. A thread rather than the streaming callback: loading
    the model or reading a long batched prompt can take longer than a lease without any
    callback.

    A renewal that finds the lease gone (the question was closed, or the lease lapsed and
    was taken over) stops renewing that question. The watch then stops a draft whose lease
    was cleared, and end_drafting refuses to store a draft under a lease taken over."""

    def __init__(self, leased: list[tuple[Question, datetime]]) -> None:
        self._leases = {question.pk: lease for question, lease in leased}
        self._held = set(self._leases)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drafting-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        # Joined, so that a renewal in flight has landed before lease() is read.
        self._thread.join()

    def lease(self, question_id: int) -> datetime:
        """The lease as last renewed: what the worker ends its drafting with."""
        return self._leases[question_id]

    def _run(self) -> None:
        interval = max(settings.DRAFT_LEASE_SECONDS / 3, 0.2)  # a 0 s lease must not spin
        give_up_at = time.monotonic() + LEASE_RENEWAL_LIMIT_SECONDS
        try:
            while self._held and not self._stop.wait(interval):
                if time.monotonic() > give_up_at:
                    logger.warning("Drafting questions %s for over %s s; no longer renewing "
                                   "their leases", sorted(self._held),
                                   LEASE_RENEWAL_LIMIT_SECONDS)
                    return
                self._renew()
        finally:
            with contextlib.suppress(DatabaseError):
                connection.close()  # this thread's own connection, not the worker's

    def _renew(self) -> None:
        renewed = timezone.now() + timedelta(seconds=settings.DRAFT_LEASE_SECONDS)
        for question_id in sorted(self._held):
            try:
                held = states.renew_drafting_lease(question_id, self._leases[question_id],
                                                   renewed)
            except DatabaseError:
                # The database is away (restarting, say): try again at the next beat, on
                # a fresh connection. The lease has two more beats before it lapses.
                logger.warning("Could not renew drafting leases", exc_info=True)
                with contextlib.suppress(DatabaseError):
                    connection.close()
                return
            if held:
                self._leases[question_id] = renewed
            else:
                logger.info("Question #%s: drafting lease lost", question_id)
                self._held.discard(question_id)


def check_redraft_request(instruction: object, candidates: object) -> tuple[str, int]:
    instruction = check_text(instruction, field="instruction",
                             max_chars=limits.INSTRUCTION_MAX_CHARS, required=False)
    if not isinstance(candidates, int) or isinstance(candidates, bool) or not (
            1 <= candidates <= limits.MAX_CANDIDATES):
        raise ValidationError({"candidates": f"candidates must be 1 to "
                                             f"{limits.MAX_CANDIDATES}."})
    return instruction, candidates


# Crisis questions are drafted alone, at the top priority, never in a batch.
NEVER_BATCHED = CRISIS_LEVELS


def _start_drafting(question_id: int, *, redraft: bool, instruction: str
                    ) -> tuple[Question, datetime] | None:
    """Takes the drafting lease on a question with one conditional UPDATE; None if the
    question is gone, already drafted, or being drafted under a live lease.

    A question a counsellor claimed before its first draft is drafted too: the lease
    sits beside the claim (see states.py), and the draft is shown beside their text."""
    question = Question.objects.filter(pk=question_id).first()
    if question is None:
        return None
    if question.human_only:
        # Defence in depth: no task is queued for it, but one that arrives anyway (an
        # old message, a requeue by hand) takes no lease, writes no Draft and sends
        # nothing to any engine.
        logger.warning("Question #%s: the client asked for no AI; not drafted", question_id)
        return None
    now = timezone.now()
    if (question.status in (Status.DRAFTING, Status.IN_REVIEW)
            and question.drafting_lease_expires_at
            and question.drafting_lease_expires_at < now
            and not states.expire_drafting_lease(question, states.WORKER, now)):
        return None
    lease = now + timedelta(seconds=settings.DRAFT_LEASE_SECONDS)
    startable = {Status.SCREENED, Status.DRAFTED} if redraft else {Status.SCREENED}
    if redraft or not question.drafts.exists():
        # Claimed before its first draft, or a redraft asked for by the claim's holder (or
        # asked for unclaimed, then claimed before the worker started): drafted beside the
        # claim; skipped, the redraft would never reach the counsellor's page.
        startable.add(Status.IN_REVIEW)
    try:
        question = states.start_drafting(
            question, states.WORKER, lease, from_states=startable,
            reason=instruction or ("redraft requested" if redraft else ""))
    except TransitionError:
        logger.info("Question #%s is not waiting for a draft; skipped", question_id)
        return None
    return question, lease


def _give_back(question: Question, lease: datetime, action: str, reason: str) -> None:
    """Ends the lease without a draft (failed or cancelled); a claimed question stays
    claimed. The audit event is what the console shows as "drafting failed"."""
    with transaction.atomic():
        try:
            states.end_drafting(question, states.WORKER, lease, action=action, reason=reason)
        except TransitionError:
            return
        events.drafting_ended(question.pk, action)


def do_store_drafts(question: Question, lease: datetime, composed: list[ComposedDraft],
                    instruction: str = "") -> list[Draft]:
    """Ends the lease with the drafts written under it, or discards them if the lease is
    no longer this worker's. Also how the demo seeds replayed drafts."""
    from inference.versions import ensure_model_version

    if _is_human_only(question.pk):
        # Defence in depth: no path should lease such a question; if one did, its lease
        # is ended and what was written is discarded, never stored or shown.
        logger.warning("Question #%s: the client asked for no AI; draft discarded",
                       question.pk)
        _give_back(question, lease, "draft_cancelled", "the client asked for no AI")
        return []
    with transaction.atomic():
        try:
            # A question claimed meanwhile stays claimed: the draft is added beside the
            # counsellor's text, never over it (the worker never writes ReplyEdit).
            states.end_drafting(
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
        events.drafting_ended(question.pk, "drafted", drafts[0].text,
                              alternatives=[d.text for d in drafts[1:]])
    return drafts


def do_generate_draft(question_id: int, *, redraft: bool = False, instruction: str = "",
                      candidates: int = 1) -> list[Draft]:
    """Drafts a reply (and up to two sampled alternatives) for one question, streaming
    the text to the console as it is written. Safe to call twice: a question that
    already has a draft, or is being drafted under a live lease, is left alone.

    A plain first draft for a question below high risk also takes other questions
    waiting for their first draft, up to DRAFT_BATCH_SIZE, and drafts them together
    (see do_generate_drafts_together)."""
    started = _start_drafting(question_id, redraft=redraft, instruction=instruction)
    if started is None:
        return []  # before the model's code is even imported (a question with no AI too)
    from inference.drafting import compose_draft
    from psyconsole.screening.levels import is_crisis

    question, lease = started
    if (not redraft and candidates == 1 and settings.DRAFT_BATCH_SIZE > 1
            and question.risk_level not in NEVER_BATCHED):
        return do_generate_drafts_together([(question, lease)])[question.pk]

    watch = _DraftWatch(question.pk)
    composed = []
    keeper = _LeaseKeeper([(question, lease)])
    try:
        with keeper:
            for candidate in range(candidates):
                watch.candidate = candidate
                composed.append(compose_draft(
                    question.text, risky=question.is_risky, instruction=instruction,
                    crisis=is_crisis(question.risk_level), factors=question.risk_factors,
                    on_text=watch.on_text, should_stop=watch.should_stop,
                    sample_seed=None if candidate == 0 else candidate,
                    passages=composed[0].passages if composed else None,  # retrieve once
                ))
                if watch.cancelled:
                    break
    except Exception:
        _give_back(question, keeper.lease(question.pk), "draft_failed",
                   "drafting raised an error")
        raise
    lease = keeper.lease(question.pk)
    if watch.cancelled:
        _give_back(question, lease, "draft_cancelled", "cancelled by a counsellor")
        return []
    return do_store_drafts(question, lease, composed, instruction)


def _take_waiting_questions(limit: int, exclude: set[int]) -> list[tuple[Question, datetime]]:
    """Leases up to `limit` more questions waiting for a first draft, most urgent first;
    their own queued tasks then find them taken and do nothing."""
    taken: list[tuple[Question, datetime]] = []
    waiting = (Question.objects.filter(status=Status.SCREENED, drafts__isnull=True,
                                       human_only=False)
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
    from psyconsole.screening.levels import is_crisis

    leased = leased + _take_waiting_questions(
        settings.DRAFT_BATCH_SIZE - len(leased), {q.pk for q, _ in leased})
    watches = [_DraftWatch(q.pk) for q, _ in leased]
    keeper = _LeaseKeeper(leased)
    try:
        with keeper:
            composed = compose_drafts([
                DraftRequest(q.text, q.is_risky, on_text=w.on_text, should_stop=w.should_stop,
                             crisis=is_crisis(q.risk_level), factors=q.risk_factors)
                for (q, _), w in zip(leased, watches, strict=True)])
    except Exception:
        for question, _ in leased:
            _give_back(question, keeper.lease(question.pk), "draft_failed",
                       "drafting raised an error")
        raise
    results: dict[int, list[Draft]] = {}
    for (question, _), watch, draft in zip(leased, watches, composed, strict=True):
        lease = keeper.lease(question.pk)
        if watch.cancelled:
            _give_back(question, lease, "draft_cancelled", "cancelled by a counsellor")
            results[question.pk] = []
        else:
            results[question.pk] = do_store_drafts(question, lease, [draft])
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


def _draft_task_question(payload: Any) -> int | None:
    """The question a broker message asks to draft (Celery's message protocol 2), or
    None if it is some other message."""
    try:
        if payload["headers"]["task"] != draft_question.name:
            return None
        body = payload["body"]
        if payload["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return int(json.loads(body)[0][0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _draft_tasks_in_broker(delivered_within: float) -> set[int] | None:
    """The questions that have a draft task waiting in the broker, or delivered to a
    worker less than `delivered_within` seconds ago and not yet acknowledged; None if
    the broker cannot be read.

    It reads kombu's Redis layout through the channel's own key names: one list per
    priority step, and the `unacked` hash with its index of delivery times. A task
    delivered longer ago whose question is still waiting was taken by a worker that died
    before it leased the question; Redis would hand it out again only after the
    visibility timeout, hours later, so it counts as lost."""
    app = draft_question.app
    queue = app.conf.task_default_queue
    try:
        with app.connection_for_read() as broker:
            broker.ensure_connection(max_retries=1)
            channel = broker.default_channel
            with channel.conn_or_acquire() as client:
                keys = dict.fromkeys(channel._q_for_pri(queue, step)
                                     for step in channel.priority_steps)
                payloads = [json.loads(raw) for key in keys
                            for raw in client.lrange(key, 0, -1)]
                tags = client.zrangebyscore(channel.unacked_index_key,
                                            time.time() - delivered_within, "+inf")
                if tags:
                    payloads += [json.loads(raw)[0]
                                 for raw in client.hmget(channel.unacked_key, tags) if raw]
    except Exception:
        logger.warning("Could not read the broker's queue", exc_info=True)
        return None
    return {qid for payload in payloads if (qid := _draft_task_question(payload)) is not None}


def do_sweep_stuck_drafts() -> list[int]:
    """Requeues questions whose drafting stalled: a lapsed drafting lease (its worker
    died or hung: a live worker renews its lease as it drafts, see _LeaseKeeper), or a
    question waiting DRAFT_REQUEUE_AFTER_SECONDS for its first draft with no task for it
    in the broker (the task was lost, in a Redis restart say). Re-queuing is safe
    because drafting is idempotent: a task finds its question leased or drafted and does
    nothing, and the lease is taken with one conditional UPDATE."""
    now = timezone.now()
    requeued = []
    for question in Question.objects.filter(status__in=[Status.DRAFTING, Status.IN_REVIEW],
                                            drafting_lease_expires_at__lt=now):
        if states.expire_drafting_lease(question, states.SYSTEM, now) and not question.human_only:
            queue_draft(question)
            requeued.append(question.pk)
    waiting_since = now - timedelta(seconds=settings.DRAFT_REQUEUE_AFTER_SECONDS)
    # A claimed question still waiting for its first draft is drafted beside the claim.
    # One whose client asked for no AI waits for a counsellor, never for a draft.
    waiting = list(Question.objects.filter(Q(status=Status.SCREENED) | Q(
        status=Status.IN_REVIEW, drafting_lease_expires_at__isnull=True),
        drafts__isnull=True, updated_at__lt=waiting_since, human_only=False))
    # A question whose task is still in the broker is only waiting its turn in a long
    # queue: requeueing it would flood the broker with duplicates. If the broker cannot
    # be read, every waiting question is requeued, which is safe.
    queued = _draft_tasks_in_broker(settings.DRAFT_REQUEUE_AFTER_SECONDS) if waiting else None
    for question in waiting:
        if queued and question.pk in queued:
            continue
        # Touching updated_at spaces the requeues out, so a task being delivered as we
        # look is duplicated at most once per DRAFT_REQUEUE_AFTER_SECONDS.
        Question.objects.filter(pk=question.pk).update(updated_at=now)
        queue_draft(question)
        requeued.append(question.pk)
    if requeued:
        logger.info("Requeued drafting for %s stuck questions", len(requeued))
    return requeued


def do_request_redraft(question: Question, user: AbstractBaseUser, instruction: object = "",
                       candidates: object = 1) -> None:
    """Queues a new draft, optionally with an instruction ("shorter", "warmer", "more
    practical", or the counsellor's own words) and up to three candidates.

    The counsellor holding the claim may ask too, without releasing it: the worker then
    drafts beside the claim (as for a claim made while drafting), the new draft is shown
    beside their text, and their edits are never touched (the worker writes no
    ReplyEdit)."""
    check_can(user, "questions.claim_question")
    check_can_draft(question)
    instruction, candidates = check_redraft_request(instruction, candidates)
    if question.status == Status.IN_REVIEW:
        check_holds_claim(question, user)
        if states.is_drafting(question):
            raise TransitionError(f"The model is still writing a draft of question "
                                  f"#{question.pk}; wait for it, or stop it first.")
    elif question.status not in (Status.SCREENED, Status.DRAFTED):
        raise TransitionError(f"Question #{question.pk} is {question.status}; release it "
                              "before asking for a new draft.")
    states.record_event(question, Actor.of(user), "redraft_requested",
                        from_state=question.status, to_state=question.status,
                        reason=instruction, data={"candidates": candidates})
    # A claimed question without a draft yet (written without one after drafting failed)
    # takes the first-draft path, which already drafts beside a claim.
    redraft = question.status == Status.DRAFTED or (
        question.status == Status.IN_REVIEW and question.drafts.exists())
    queue_draft(question, redraft=redraft, instruction=instruction, candidates=candidates)
