from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def console(request: HttpRequest) -> dict[str, Any]:
    from psyconsole.questions.selectors import open_assignment_count, unclaimed_crises

    user = getattr(request, "user", None)
    staff = bool(user and user.is_authenticated and user.has_perm("questions.view_question"))
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
    }
