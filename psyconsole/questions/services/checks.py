"""Checks shared by every domain: text fields, permissions, holding a claim.

`check_*` functions validate and raise ValidationError, PermissionDenied or
TransitionError; they never change anything."""

from __future__ import annotations

import unicodedata

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from psyconsole.questions.models import (
    Question,
    Status,
)
from psyconsole.questions.states import TransitionError


def check_text(value: object, *, field: str, max_chars: int, required: bool = True) -> str:
    """Returns the cleaned text, or raises ValidationError saying what is wrong."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: f"{field} must be a string."})
    if "\x00" in value:
        raise ValidationError({field: f"{field} must not contain NUL characters."})
    if "\ufffd" in value:
        # What a decoder leaves for bytes that were not valid UTF-8.
        raise ValidationError({field: f"{field} contains characters that are not valid "
                                      "UTF-8."})
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        # A lone surrogate ("\ud800" in JSON) decodes but can never be stored or hashed.
        raise ValidationError({field: f"{field} contains a lone surrogate, which is not "
                                      "valid Unicode text."})
    cleaned = unicodedata.normalize("NFC", value).strip()
    if required and not cleaned:
        raise ValidationError({field: f"{field} must not be empty."})
    if len(cleaned) > max_chars:
        raise ValidationError({field: f"{field} must be at most {max_chars} characters "
                                      f"(got {len(cleaned)})."})
    return cleaned


def check_can(user: AbstractBaseUser, permission: str) -> None:
    if not user.is_authenticated or not user.has_perm(permission):
        raise PermissionDenied(f"You do not have permission to do this ({permission}).")


def check_holds_claim(question: Question, user: AbstractBaseUser) -> None:
    if question.status != Status.IN_REVIEW:
        raise TransitionError(f"Question #{question.pk} is {question.status}; only a question "
                              "you have claimed for review can be changed.")
    if question.claimed_by_id != user.pk:
        raise TransitionError(f"Question #{question.pk} is claimed by someone else.")
    if question.claim_expires_at and question.claim_expires_at < timezone.now():
        raise TransitionError(f"Your claim on question #{question.pk} has expired; claim it "
                              "again.")
