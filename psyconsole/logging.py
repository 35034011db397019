"""Log hygiene: client text must never reach a log (safety rule 5)."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Not inside a word or a hyphenated id: a Celery task id such as
# "fd5149d0-98f6-4595-9093-f75513baaf3d" holds digit runs that look like a phone number,
# and masking them made the worker's log lines unmatchable.
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{7,}\d(?![\w-])")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _mask_phone(match: re.Match[str]) -> str:
    return match.group() if _IP_ADDRESS.fullmatch(match.group()) else "[phone]"


def scrub(text: str) -> str:
    return _PHONE.sub(_mask_phone, _EMAIL.sub("[email]", text))


class ScrubPII(logging.Filter):
    """Masks e-mail addresses and phone numbers, as a safety net behind the rule
    that log calls name questions by id and never include their text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True
