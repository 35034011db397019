"""Log hygiene: client text must never reach a log (safety rule 5), and neither may a
tracking code, a client's only secret (it is in the tracking page's URL, so in every
access log line for it)."""

from __future__ import annotations

import logging
import re
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# The URLs that carry a tracking code: the tracking page and the public API's question.
# A code is URL-safe base64 (models.new_tracking_code).
_TRACKING_URL = re.compile(r"(/track/|/api/v\d+/questions/)[A-Za-z0-9_-]+")
# Not inside a word or a hyphenated id: a Celery task id such as
# "fd5149d0-98f6-4595-9093-f75513baaf3d" holds digit runs that look like a phone number,
# and masking them made the worker's log lines unmatchable.
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{7,}\d(?![\w-])")
# What log lines are made of and the phone pattern would swallow with their neighbours:
# IPv4 addresses (with a port), UUIDs (a task id is all digits now and then) and dates
# and times. Checking a phone match afterwards was not enough: "10.0.0.1 200 5120" is
# one match, and the address went with it. They are held out of the search instead.
_KEEP = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"
    r"|(?<![\w-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![\w-])"
    r"|(?<![\w-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?![\w-])"
)
# Stands in for each character of a kept span while phone numbers are looked for: a
# private-use character, neither a digit nor a word character, so no match runs into it.
_HOLE = "\ue000"


def _mask_phones(text: str) -> str:
    held_out = _KEEP.sub(lambda m: _HOLE * len(m.group()), text)  # same positions
    pieces, last = [], 0
    for match in _PHONE.finditer(held_out):
        pieces += [text[last:match.start()], "[phone]"]
        last = match.end()
    return "".join([*pieces, text[last:]])


def scrub(text: str) -> str:
    return _mask_phones(_EMAIL.sub("[email]", _TRACKING_URL.sub(r"\1[code]", text)))


class ScrubPII(logging.Filter):
    """Masks tracking codes in URLs, e-mail addresses and phone numbers, as a safety net
    behind the rule that log calls name questions by id and never include their text.
    It sits on the console handler, so every logger goes through it: Django's request
    log ("Not Found: /track/..."), runserver's access log and the worker's."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


def _scrub_daphne_access_log() -> None:
    """daphne's own access log (`daphne psyconsole.asgi:application`, as `rundemo` and
    production run it) is written straight to a stream, past logging and its filters, so
    its request line is scrubbed where daphne writes it. This module is loaded with the
    settings' LOGGING in every process, before daphne writes its first line."""
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:  # daphne serves the app, but a worker could run without it
        return
    write_entry = AccessLogGenerator.write_entry
    if getattr(write_entry, "scrubbed", False):
        return

    def scrubbed_write_entry(self: Any, host: Any, date: Any, request: str,
                             *args: Any, **kwargs: Any) -> None:
        write_entry(self, host, date, scrub(request), *args, **kwargs)

    scrubbed_write_entry.scrubbed = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = scrubbed_write_entry  # type: ignore[method-assign]


_scrub_daphne_access_log()
