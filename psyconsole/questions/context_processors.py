from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def console(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "AI_DISCLOSURE": settings.AI_DISCLOSURE,
        "CRISIS_RESOURCES": settings.CRISIS_RESOURCES,
        "is_supervisor": bool(user and user.has_perm("questions.audit_reply")),
    }
