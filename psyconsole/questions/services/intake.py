"""Intake: a client's question is stored, risk-screened without the model, and queued
for drafting; the client may withdraw it."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from psyconsole.questions import events, limits, states
from psyconsole.questions.models import (
    Question,
    Status,
)
from psyconsole.questions.services.checks import check_text
from psyconsole.questions.services.drafting import queue_draft
from psyconsole.screening import screen

logger = logging.getLogger(__name__)


def check_question_text(value: object) -> str:
    return check_text(value, field="text", max_chars=limits.QUESTION_MAX_CHARS)


def check_contact(value: object) -> str:
    return check_text(value, field="contact", max_chars=limits.CONTACT_MAX_CHARS, required=False)


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > limits.IDEMPOTENCY_KEY_MAX_CHARS or not key.isprintable():
        raise ValidationError({"Idempotency-Key": "Idempotency-Key must be 1 to 255 printable "
                                                  "characters."})
    return key


def check_human_only(value: object) -> bool:
    """The client's choice of a reply written without AI: strictly true or false (a
    "yes", a 1 or a list is refused rather than guessed at, since it decides whether
    their words ever reach the model)."""
    if not isinstance(value, bool):
        raise ValidationError({"human_only": "human_only must be true or false."})
    return value


@dataclass(frozen=True)
class Submission:
    question: Question
    created: bool


def _fingerprint(text: str, contact: str, human_only: bool = False) -> str:
    # The choice is added only when made, so questions stored before it keep their
    # fingerprints; a retry that changes the choice is another question.
    choice = "\x00human_only" if human_only else ""
    return hashlib.sha256(f"{text}\x00{contact}{choice}".encode()).hexdigest()


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
                       background: bool = False, human_only: object = False) -> Submission:
    """Stores, screens and queues a client question. Screening never uses the model.

    `background` drafts it after every live question (used for bulk imports and demo
    data, so they never hold up a real client). `human_only`: the client asked for a
    reply written without AI; it is screened like any question (the crisis alert and
    the priority do not depend on the choice) but never queued for drafting."""
    text = check_question_text(text)
    contact = check_contact(contact)
    key = check_idempotency_key(idempotency_key)
    human_only = check_human_only(human_only)
    fingerprint = _fingerprint(text, contact, human_only)
    if key is not None:
        existing = _replay(key, fingerprint)
        if existing is not None:
            return Submission(existing, created=False)

    result = screen(text)
    try:
        with transaction.atomic():
            question = states.create_received(
                actor=states.CLIENT, text=text, contact=contact, idempotency_key=key,
                request_fingerprint=fingerprint, human_only=human_only,
            )
            states.transition(
                question, Status.SCREENED, states.SCREENER,
                reason=f"risk {result.risk_level}",
                data={"factors": [f.factor for f in result.factors]},
                risk_level=result.risk_level, risk_factors=result.factors_as_json(),
                priority=result.priority, topics=result.topics,
            )
            if result.is_crisis:
                events.crisis_alert(question.pk, question.risk_level)
            queue_draft(question, background=background)  # a no-op for human_only
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        if key is None:
            raise
        return Submission(_replay(key, fingerprint), created=False)
    logger.info("Question #%s received, risk %s", question.pk, question.risk_level)
    return Submission(question, created=True)


def do_withdraw(question: Question) -> Question:
    return states.transition(question, Status.WITHDRAWN, states.CLIENT,
                             reason="withdrawn by the client")
