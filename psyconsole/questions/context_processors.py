from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def console(request: HttpRequest) -> dict[str, Any]:
    from django.utils import timezone

    from psyconsole.questions.selectors import (
        near_sla_deadline,
        open_assignment_count,
        unclaimed_crises,
    )

    user = getattr(request, "user", None)
    staff = bool(user and user.is_authenticated and user.has_perm("questions.view_question"))
    supervisor = bool(staff and user.has_perm("questions.audit_reply"))
    now = timezone.now()
    return {
        "AI_DISCLOSURE": settings.AI_DISCLOSURE,
        "CRISIS_RESOURCES": settings.CRISIS_RESOURCES,
        "is_supervisor": bool(user and user.has_perm("questions.audit_reply")),
        "can_export": bool(user and user.has_perm("exports.export_annotations")),
        # Blind second annotations waiting for this user (the nav's "Assigned to me").
        "open_annotation_assignments": open_assignment_count(user) if staff else 0,
        # Flagged on every console page until someone claims them; each user sees only
        # those they may claim (an escalated one goes to supervisors).
        "unclaimed_crises": list(unclaimed_crises(user)[:10]) if staff else [],
        # Supervisors' SLA banners on every page load, the alerted and the not yet
        # alerted alike (console.js re-reads them after a reconnect): the live sla_alert
        # push is sent once, and a page opened later must still show it.
        "sla_warnings": [{"question": q, "overdue": q.sla_due_at <= now}
                         for q in near_sla_deadline(now)[:10]] if supervisor else [],
    }
