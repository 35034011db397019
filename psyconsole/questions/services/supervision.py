"""The supervisor's desk: the outcome of an audit, and what follows from it.

An audit ends in one of three outcomes (Review.AuditOutcome):

- sound: nothing to do (services/audit.py's do_audit records the same);
- needs feedback: a note to the counsellor who approved the reply, shown in their console
  until they acknowledge it (Feedback);
- needs correction: a follow-up reply to the client (Correction), written and approved
  by the supervisor through the same final-text check as an approval
  (services/review.py: check_final_text, ReplyBlocked, check_override_reason). The
  client's tracking page shows it under the original reply, which stays as it was; the
  question's status is not touched (states.py is its only writer).

Which replies are put in front of a supervisor is the sampling policy
(supervision_selectors.py). No-self-audit holds for every outcome
(audit.check_not_own_reply). Audit events hold rule names, ids and counts, never the
correction's text (it may quote the client, and events can never be erased).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from psyconsole.questions import limits, states
from psyconsole.questions.models import Correction, Feedback, Question, Review, Status
from psyconsole.questions.services.audit import check_can_audit, mark_audited
from psyconsole.questions.services.checks import check_can, check_text
from psyconsole.questions.services.review import (
    ReplyBlocked,
    audited_findings,
    check_final_text,
    check_override_reason,
)
from psyconsole.questions.states import Actor, TransitionError

Outcome = Review.AuditOutcome


def check_outcome(value: object) -> str:
    if value not in Outcome.values:
        raise ValidationError({"outcome": "outcome must be one of "
                                          f"{', '.join(Outcome.values)}."})
    return str(value)


def check_can_correct(question: Question) -> None:
    """A correction reaches the client only on the tracking page of a delivered reply:
    not on an erased question, whose client asked for everything to go."""
    if question.status != Status.DELIVERED:
        raise TransitionError(f"Question #{question.pk} is {question.status}: a correction "
                              "can only follow a reply the client has been sent.")


def do_audit_outcome(review: Review, user: AbstractBaseUser, outcome: object,
                     note: object = "", correction: object = None,
                     override_reason: object = None) -> Review:
    """Audits an approved reply with its outcome. "needs_feedback" needs a `note` (sent to
    the counsellor); "needs_correction" needs the `correction` text, which is checked like
    an approval: blocking findings raise ReplyBlocked (nothing is written, the refusal is
    audited) unless `override_reason` says why it must go as it is."""
    check_can(user, "questions.audit_reply")
    outcome = check_outcome(outcome)
    note = check_text(note, field="note", max_chars=limits.REASON_MAX_CHARS,
                      required=outcome == Outcome.NEEDS_FEEDBACK)
    check_can_audit(review, user)
    text = ""
    override = None
    if outcome == Outcome.NEEDS_CORRECTION:
        check_can(user, "questions.approve_reply")
        text = check_text(correction, field="correction", max_chars=limits.REPLY_MAX_CHARS)
        override = check_override_reason(override_reason)
    actor = Actor.of(user)
    try:
        with transaction.atomic():
            # The question's row lock orders us after (or before) an erasure of it.
            question = Question.objects.select_for_update().get(pk=review.question_id)
            review = Review.objects.select_related("question", "draft").get(pk=review.pk)
            if outcome != Outcome.NEEDS_CORRECTION:
                mark_audited(review, user, note, outcome)
                if outcome == Outcome.NEEDS_FEEDBACK:
                    feedback = Feedback.objects.create(review=review,
                                                       counsellor=review.reviewer,
                                                       supervisor=user, note=note)
                    states.record_event(question, actor, "feedback",
                                        from_state=question.status,
                                        to_state=question.status,
                                        data={"review_id": review.pk,
                                              "feedback_id": feedback.pk,
                                              "to": review.reviewer.get_username()})
            else:
                check_can_correct(question)
                findings = check_final_text(question, text, review.draft)
                blocking = [f for f in findings if f["severity"] == "block"]
                if blocking and override is None:
                    raise ReplyBlocked(findings)
                mark_audited(review, user, note, outcome)
                correction_row = Correction.objects.create(
                    review=review, author=user, text=text, findings=findings,
                    override_reason=override if blocking else "",
                    approved_at=timezone.now())
                if blocking:
                    states.record_event(question, actor, "guardrail_override",
                                        from_state=question.status,
                                        to_state=question.status, reason=override or "",
                                        data={"review_id": review.pk,
                                              "correction_id": correction_row.pk,
                                              "findings": audited_findings(blocking)})
                states.record_event(question, actor, "correction",
                                    from_state=question.status, to_state=question.status,
                                    data={"review_id": review.pk,
                                          "correction_id": correction_row.pk,
                                          "findings": [f["rule"] for f in findings],
                                          "overridden": bool(blocking),
                                          "chars": len(text)})
    except ReplyBlocked as exc:
        blocked = audited_findings([f for f in exc.findings if f["severity"] == "block"])
        question = review.question
        states.record_event(question, actor, "correction_blocked",
                            from_state=question.status, to_state=question.status,
                            reason=f"blocking findings: "
                                   f"{', '.join(f['rule'] for f in blocked)}",
                            data={"review_id": review.pk, "findings": blocked})
        raise
    review.refresh_from_db()
    return review


def do_acknowledge_feedback(feedback: Feedback, user: AbstractBaseUser) -> Feedback:
    """The counsellor the feedback was for has read it; it leaves their console."""
    check_can(user, "questions.view_question")
    if feedback.counsellor_id != user.pk:
        raise PermissionDenied("This feedback was sent to another counsellor: only they "
                               "can acknowledge it.")
    with transaction.atomic():
        updated = Feedback.objects.filter(pk=feedback.pk, acknowledged_at__isnull=True
                                          ).update(acknowledged_at=timezone.now())
        if not updated:
            raise TransitionError("This feedback has already been acknowledged.")
        question = feedback.review.question
        states.record_event(question, Actor.of(user), "feedback_acknowledged",
                            from_state=question.status, to_state=question.status,
                            data={"review_id": feedback.review_id,
                                  "feedback_id": feedback.pk})
    feedback.refresh_from_db()
    return feedback
