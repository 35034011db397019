"""API tokens for the console API."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from psyconsole.questions import states
from psyconsole.questions.models import (
    ApiToken,
)
from psyconsole.questions.states import Actor


def do_issue_api_token(user: AbstractBaseUser, hours: int = 12) -> str:
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=ApiToken.hash_of(token),
                            expires_at=timezone.now() + timedelta(hours=hours))
    states.record_event(None, Actor.of(user), "api_token_issued")
    return token


def do_delete_expired_tokens(now: datetime | None = None) -> int:
    """Deletes API tokens past their expiry (they can never authenticate again, and each
    row still names its user); returns how many. Audited as one event, not one per row."""
    now = now or timezone.now()
    with transaction.atomic():
        deleted, _ = ApiToken.objects.filter(expires_at__lt=now).delete()
        if deleted:
            states.record_event(None, states.SYSTEM, "api_tokens_purged",
                                data={"deleted": deleted})
    return deleted
