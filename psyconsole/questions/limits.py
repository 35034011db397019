"""The size limits of every field a person types, in one place: the services check
them, the forms and the API schemas declare them to browsers and clients.

Limits count characters, never bytes. The request body limits in bytes follow from them
(`body_max_bytes`), so the longest text fits in any script.

The question text's limit is a setting (`PSY_QUESTION_MAX_CHARS`), read from the settings
when it is used: `settings.py` imports this module to derive the body limit, before the
settings exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

QUESTION_MAX_CHARS: int  # settings.QUESTION_MAX_CHARS, through __getattr__ below


def __getattr__(name: str) -> Any:
    if name == "QUESTION_MAX_CHARS":
        return settings.QUESTION_MAX_CHARS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CONTACT_MAX_CHARS = 254
REASON_MAX_CHARS = 2000  # reasons, notes and override reasons
REPLY_MAX_CHARS = 20000
IDEMPOTENCY_KEY_MAX_CHARS = 255
INSTRUCTION_MAX_CHARS = 200
TAG_MAX_CHARS = 50
MAX_TAGS = 20
TAGS_FIELD_MAX_CHARS = 500  # the console's comma-separated tags box
OVERRIDE_REASON_MIN_CHARS = 10
MAX_CANDIDATES = 3
RATING_RANGE = (1, 5)

# The most bytes one character can take on the wire: 4 bytes of UTF-8, which a form
# percent-encodes to 12 ("%F0%9F%98%80") and JSON may escape as a surrogate pair
# ("\ud83d\ude00", also 12). Devanagari takes 9 in a form and 6 in escaped JSON.
WIRE_BYTES_PER_CHAR = 12
# Field names, JSON punctuation, the CSRF token and multipart boundaries.
BODY_OVERHEAD_BYTES = 16 * 1024


def body_max_bytes(question_max_chars: int) -> int:
    """The largest request body a person's typing can make, in bytes: the largest request
    (by its character limits) at the worst case per character, plus the overhead.
    `settings.py` sets PSY_API_MAX_BODY_BYTES and Django's form limit from it."""
    largest_chars = max(
        question_max_chars + CONTACT_MAX_CHARS,  # intake
        REPLY_MAX_CHARS + REASON_MAX_CHARS,  # approve: the reply and an override reason
        REASON_MAX_CHARS + max(MAX_TAGS * TAG_MAX_CHARS, TAGS_FIELD_MAX_CHARS),  # annotate
    )
    return largest_chars * WIRE_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES


def has_lone_surrogate(value: str) -> bool:
    """True for text UTF-8 cannot encode: a surrogate code point on its own, which JSON's
    "\\ud800" escape makes. Such text can never be stored, hashed or logged."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
