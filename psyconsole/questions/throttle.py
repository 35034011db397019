"""Abuse limits on the public entry points: rate limits on intake and token issue
(django-ratelimit, counted in the Redis cache), and the answer to a login lockout
(django-axes). The counting is the libraries'; this module only says what is counted and
what a refused client reads.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

INTAKE_THROTTLED = (
    "You have sent several questions in a short time, so this one was not sent. "
    "Please wait a minute and send it again. If you need help right now, don't wait: "
    "use the crisis resources."
)
SIGN_IN_THROTTLED = "Too many token requests from this address. Wait a minute and try again."


def _session_key(group: str, request: HttpRequest) -> str:
    return request.session.session_key or ""


def _limited(request: HttpRequest, group: str, key: Any, rate: str) -> int | None:
    """Counts this request; if it is over the limit, the seconds until it may retry."""
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except (RedisError, OSError):
        # Intake must keep working with Redis down: a question refused for want of a
        # counter could be a crisis. The login lockout (axes, in the database) still holds.
        logger.warning("The rate limit cache is unavailable; %s is not limited.", group)
        return None
    # None: limits off, or the cache answered nothing (RATELIMIT_FAIL_OPEN).
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def intake_throttled(request: HttpRequest, *, start_session: bool = False) -> int | None:
    """Counts this question against its address and its session; over either limit, the
    seconds to wait. The address limit is the looser one, since clients behind one NAT
    share it. `start_session` (the form) gives a browser without one a session first, so
    its questions count per client from the first; only once the address limit passes,
    so a flood cannot make a session row per request."""
    wait = _limited(request, "intake-ip", "ip", settings.INTAKE_IP_RATE)
    if wait is not None:
        return wait
    if start_session and not request.session.session_key:
        request.session["asked"] = True
        request.session.save()
    # No session, no session limit: all cookie-less callers would share one counter.
    if not request.session.session_key:
        return None
    return _limited(request, "intake-session", _session_key, settings.INTAKE_RATE)


def token_throttled(request: HttpRequest) -> int | None:
    return _limited(request, "auth-token", "ip", settings.TOKEN_RATE)


def throttled_body(detail: str = INTAKE_THROTTLED) -> dict[str, Any]:
    """A refusal that still tells a client in crisis where to get help at once."""
    return {"detail": detail, "crisis_resources": list(settings.CRISIS_RESOURCES)}


def lockout_response(request: HttpRequest, original_response: Any = None,
                     credentials: Any = None) -> HttpResponse:
    """What axes answers once a username is locked out from an address: JSON on the API,
    a page elsewhere (the login form, the admin). The same words whether or not the
    username exists, so a lockout tells an attacker nothing."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = max(1, round(cooloff.total_seconds() / 60))
    message = (f"Too many failed sign-ins. This account is locked from this address for "
               f"{minutes} minutes; try again later, or ask an administrator to unlock it.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message},
                          status=429)
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response
