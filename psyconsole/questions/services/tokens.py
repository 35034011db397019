"""API tokens for the console API."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
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
