"""SLA escalation: supervisors hear about a high or imminent question that is close to
its first-response deadline with nobody on it, while there is still time to act.

Celery beat runs `do_alert_sla_breaches` every SLA_ALERT_SECONDS. Each question is
alerted once: the alert is an audit event ("sla_alert"), and a question that has one is
skipped, so a second run, or two beats at once, send nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from psyconsole.questions import events, selectors, states
from psyconsole.questions.models import Question

logger = logging.getLogger(__name__)


def do_alert_sla_breaches(now: datetime | None = None) -> list[int]:
    """Alerts supervisors about each question near its deadline and not yet alerted;
    returns the ids alerted."""
    now = now or timezone.now()
    alerted = []
    for candidate in selectors.near_sla_deadline(now).filter(sla_alerted=False):
        with transaction.atomic():
            # The row lock makes a concurrent run wait here, then find the alert made.
            question = (Question.objects.select_for_update(skip_locked=True)
                        .filter(pk=candidate.pk).first())
            if question is None or selectors.near_sla_deadline(now).filter(
                    pk=question.pk, sla_alerted=False).first() is None:
                continue
            due_at = candidate.sla_due_at
            states.record_event(question, states.SYSTEM, selectors.SLA_ALERT_ACTION,
                                data={"risk_level": question.risk_level,
                                      "sla_due_at": due_at.isoformat()})
            events.sla_alert(question.pk, question.risk_level,
                             waiting_seconds=int((now - question.created_at).total_seconds()),
                             due_in_seconds=int((due_at - now).total_seconds()))
        alerted.append(question.pk)
    if alerted:
        logger.info("SLA alerts sent to supervisors for %s questions", len(alerted))
    return alerted
