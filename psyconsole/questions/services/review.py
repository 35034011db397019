"""Review, the counsellor's work: claims, take next, risk overrides, edits, the
final-text check, approval, rejection and escalation. (Annotation is in `annotation`.)"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from psyconsole.questions import events, limits, selectors, states
from psyconsole.questions.models import (
    Draft,
    Question,
    ReplyEdit,
    Review,
    RiskLevel,
    Status,
)
from psyconsole.questions.services.checks import check_can, check_holds_claim, check_text
from psyconsole.questions.services.drafting import queue_draft
from psyconsole.questions.states import Actor, TransitionError
from psyconsole.screening.levels import RANK, is_crisis

# Supervisors: the role that audits approved replies also oversees claims (release or
# reassign anyone's) and may lower a crisis risk level without holding the claim.
SUPERVISE = "questions.audit_reply"


def _lease_end() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.CLAIM_LEASE_SECONDS)


# Where a counsellor may claim from: every open state but `received` (not yet screened,
# which takes milliseconds) and `in_review` (already claimed; renewed below). Drafting
# included: a crisis is never blocked by the model.
CLAIMABLE = frozenset({Status.SCREENED, Status.DRAFTING, Status.DRAFTED, Status.ESCALATED})
TAKE_NEXT = [Status.SCREENED, Status.DRAFTING, Status.DRAFTED]


class ClaimLimitReached(TransitionError):
    """The user already holds MAX_CLAIMS_PER_COUNSELLOR live claims (a 409, like any
    claim that cannot be made now)."""


def _lock_claimer(user: AbstractBaseUser) -> None:
    """Locks the user's row until the transaction ends, so that one user's claims are
    counted and made one after another: two claims racing in two requests would
    otherwise both count N-1 held claims and both win. Every claim path takes this lock
    before any question row (take-next locks its candidate after it), so the order is
    always user, then question, and the two cannot deadlock."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk)
         .values_list("pk", flat=True))


def check_claim_cap(user: AbstractBaseUser, now: timezone.datetime, *,
                    question: Question | None = None, whose: str = "You") -> None:
    """Raises ClaimLimitReached if `user` already holds the most live claims allowed,
    not counting `question` (a claim they renew or are handed stays one claim). Call it
    inside the claiming transaction, after `_lock_claimer(user)`."""
    limit = settings.MAX_CLAIMS_PER_COUNSELLOR
    held = selectors.live_claims(user, now)
    if question is not None:
        held = held.exclude(pk=question.pk)
    count = held.count()
    if count >= limit:
        claims = "claim" if limit == 1 else "claims"
        holds = "hold" if whose == "You" else "holds"
        raise ClaimLimitReached(
            f"{whose} already {holds} {count} {'claim' if count == 1 else 'claims'}; "
            f"one counsellor holds at most {limit} {claims} at once. Approve, reject, "
            "escalate or release one first.")


def do_claim(question: Question, user: AbstractBaseUser) -> Question:
    """Claims a question for review. A claim is a lease: it lapses if abandoned. Nobody
    holds more than MAX_CLAIMS_PER_COUNSELLOR live claims (ClaimLimitReached).

    A question being drafted can be claimed too: the worker keeps writing beside the
    claim, and the counsellor can write their own reply at once."""
    check_can(user, "questions.claim_question")
    with transaction.atomic():
        _lock_claimer(user)
        now = timezone.now()
        question.refresh_from_db()
        if question.status == Status.ESCALATED:
            check_can(user, "questions.audit_reply")
        if question.status == Status.IN_REVIEW:
            # Renew our own claim, or take over one whose lease has lapsed.
            previous = question.claimed_by_id
            renewing = (previous == user.pk and question.claim_expires_at is not None
                        and question.claim_expires_at >= now)
            if not renewing:  # taking over a lapsed claim (ours too) is a new claim
                check_claim_cap(user, now, question=question)
            try:
                question = states.renew_claim(
                    question, user, _lease_end(), now=now,
                    reason="renewed" if previous == user.pk else "lapsed claim taken over")
            except TransitionError as exc:
                raise TransitionError(f"Question #{question.pk} is claimed by someone "
                                      "else.") from exc
            return question
        check_claim_cap(user, now)
        # One conditional UPDATE still decides who wins the question itself.
        return states.claim(question, user, _lease_end(), from_states=CLAIMABLE,
                            first_claimed_at=Coalesce(F("first_claimed_at"), Value(now)))


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
            # The user's lock first, then the candidate's row (see _lock_claimer); a user
            # at the cap is told so rather than handed a question they cannot take.
            _lock_claimer(user)
            check_claim_cap(user, timezone.now())
            candidate = (selectors.queue()
                         .filter(status__in=TAKE_NEXT)
                         .select_for_update(skip_locked=True, of=("self",))
                         .first())
            if candidate is None:
                return None
            try:
                return do_claim(candidate, user)
            except ClaimLimitReached:
                raise
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
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        previous = question.risk_level
        check_can_lower_risk(question, user, risk_level)
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
        if is_crisis(question.risk_level) and question.claimed_by_id is None:
            events.crisis_alert(question.pk, question.risk_level)
    return question


def check_can_lower_risk(question: Question, user: AbstractBaseUser, risk_level: str) -> None:
    """Lowering a crisis level (high or imminent) is a second pair of eyes' decision: it
    needs the live claim on the question, or a supervisor. Raising a level, or lowering
    a lesser one, stays open to every counsellor, so a risk is never held up."""
    if not is_crisis(question.risk_level) or RANK[risk_level] >= RANK[question.risk_level]:
        return
    if user.has_perm(SUPERVISE):
        return
    try:
        check_holds_claim(question, user)
    except TransitionError as exc:
        raise PermissionDenied(
            f"Question #{question.pk} is at {question.risk_level} risk: lowering it needs "
            "your claim on it, or a supervisor. Claim it first, or ask a supervisor.") from exc


def do_release(question: Question, user: AbstractBaseUser, reason: str = "") -> Question:
    check_can(user, "questions.claim_question")
    question.refresh_from_db()
    check_holds_claim(question, user)
    question = states.release(question, user, reason=reason)
    if question.status == Status.SCREENED:  # still without a draft: ask for one
        queue_draft(question)
    return question


def _held_claim(question: Question) -> Question:
    question.refresh_from_db()
    if question.status != Status.IN_REVIEW or question.claimed_by_id is None:
        raise TransitionError(f"Question #{question.pk} is {question.status}; nobody holds "
                              "a claim on it.")
    return question


def do_release_claim(question: Question, user: AbstractBaseUser, reason: object) -> Question:
    """A supervisor takes back anyone's claim (live or lapsed), with a reason in the audit
    trail; the question goes where a release sends it."""
    check_can(user, SUPERVISE)
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    question = _held_claim(question)
    question = states.release(question, user, reason=reason, holder=question.claimed_by)
    if question.status == Status.SCREENED:  # still without a draft: ask for one
        queue_draft(question)
    return question


def do_reassign(question: Question, user: AbstractBaseUser, to: object,
                reason: object) -> Question:
    """A supervisor gives a claim to the console user named `to` (a username), with a
    reason in the audit trail. The new holder is held to the claim cap like any claim."""
    check_can(user, SUPERVISE)
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    username = check_text(to, field="to", max_chars=150)
    target = selectors.counsellors().filter(username=username).first()
    if target is None:
        raise ValidationError({"to": f"{username} is not a console user who can hold a "
                                     "claim."})
    with transaction.atomic():
        _lock_claimer(target)
        now = timezone.now()
        question = _held_claim(question)
        if question.claimed_by_id == target.pk:
            raise ValidationError({"to": f"{username} already holds this claim."})
        check_claim_cap(target, now, question=question, whose=username)
        return states.reassign(question, target, _lease_end(), by=user,
                               holder=question.claimed_by, reason=reason)


def do_save_edit(question: Question, user: AbstractBaseUser, text: object) -> ReplyEdit:
    check_can(user, "questions.claim_question")
    text = check_text(text, field="text", max_chars=limits.REPLY_MAX_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        check_holds_claim(question, user)
        edit = ReplyEdit.objects.create(question=question, author=user, text=text,
                                        based_on=selectors.current_draft(question))
        states.record_event(question, Actor.of(user), "edit", from_state=question.status,
                            to_state=question.status, data={"edit_id": edit.pk,
                                                             "chars": len(text)})
    return edit




def audited_findings(findings: list[dict[str, str]]) -> list[dict[str, str]]:
    """Guardrail findings as an audit event keeps them: without the excerpt, a quote of
    the reply that may quote the client, because audit events are append-only and could
    never be erased (services/erasure.py)."""
    return [{k: v for k, v in f.items() if k != "excerpt"} for f in findings]


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
    reason = check_text(value, field="override_reason", max_chars=limits.REASON_MAX_CHARS)
    if len(reason) < limits.OVERRIDE_REASON_MIN_CHARS:
        raise ValidationError({"override_reason": (
            f"override_reason must say why, in at least {limits.OVERRIDE_REASON_MIN_CHARS} "
            "characters.")})
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
        crisis=is_crisis(question.risk_level))
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
        text = check_text(text, field="text", max_chars=limits.REPLY_MAX_CHARS)
    actor = Actor.of(user)
    try:
        with transaction.atomic():
            question = Question.objects.select_for_update().get(pk=question.pk)
            check_holds_claim(question, user)
            if text is not None and text != selectors.current_reply_text(question):
                do_save_edit(question, user, text)
            final_text = check_text(selectors.current_reply_text(question), field="text",
                                    max_chars=limits.REPLY_MAX_CHARS)
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
                                    data={"review_id": review.pk,
                                          "findings": audited_findings(blocking)})
            states.transition(question, Status.APPROVED, actor, action="approve",
                              extra_condition=Q(claimed_by=user),
                              data={"review_id": review.pk,
                                    "findings": [f["rule"] for f in findings],
                                    "overridden": bool(blocking)})
            states.transition(question, Status.DELIVERED, states.SYSTEM, action="deliver",
                              reason="published on the client's tracking page")
    except ReplyBlocked as exc:
        # Nothing of the approval is written, but the refusal is audited.
        blocking = audited_findings([f for f in exc.findings if f["severity"] == "block"])
        states.record_event(question, actor, "approval_blocked", from_state=question.status,
                            to_state=question.status,
                            reason=f"blocking findings: {', '.join(f['rule'] for f in blocking)}",
                            data={"findings": blocking})
        raise
    return review


def _close_with_review(question: Question, user: AbstractBaseUser, decision: str,
                       to_state: str, reason: object) -> Review:
    reason = check_text(reason, field="reason", max_chars=limits.REASON_MAX_CHARS)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.status == Status.IN_REVIEW:
            check_holds_claim(question, user)
        review = Review.objects.create(question=question, draft=selectors.current_draft(question),
                                       reviewer=user, decision=decision, reason=reason)
        states.transition(question, to_state, Actor.of(user), action=decision, reason=reason,
                          data={"review_id": review.pk})
    return review


def do_reject(question: Question, user: AbstractBaseUser, reason: object) -> Review:
    check_can(user, "questions.approve_reply")
    return _close_with_review(question, user, Review.Decision.REJECTED, Status.REJECTED, reason)


def do_escalate(question: Question, user: AbstractBaseUser, reason: object) -> Review:
    check_can(user, "questions.claim_question")
    review = _close_with_review(question, user, Review.Decision.ESCALATED, Status.ESCALATED,
                                reason)
    if question.is_risky:
        events.escalation_alert(question.pk, question.risk_level)
    return review
