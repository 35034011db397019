"""The size limits of every field a person types, in one place: the services check
them, the forms and the API schemas declare them to browsers and clients.

The question text's limit is a setting (`PSY_QUESTION_MAX_CHARS`), read once here.
"""

from __future__ import annotations

from django.conf import settings

QUESTION_MAX_CHARS: int = settings.QUESTION_MAX_CHARS
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
