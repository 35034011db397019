"""Limits count characters, not bytes: the longest reply fits in any script, through the
API (JSON escapes each character) and the console's editor (a form percent-encodes each
UTF-8 byte), because the byte limits are derived from the character limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings

from psyconsole.questions import limits
from psyconsole.questions.models import ReplyEdit
from psyconsole.questions.services.review import do_claim
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

DEVANAGARI = "नमस्ते आप कैसे हैं "  # 3 bytes of UTF-8 a letter
BRAHMI = "\U00011013"  # outside the BMP: 4 bytes of UTF-8, a surrogate pair in JSON


def _text(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars].strip() or unit


@pytest.fixture
def claimed(counsellor: Any) -> Any:
    question = make_drafted_question()
    do_claim(question, counsellor)
    return question


def test_a_15000_character_devanagari_reply_is_saved_from_the_editor(client, counsellor,
                                                                     claimed):
    reply = _text(DEVANAGARI, 15_000)
    body = urlencode({"text": reply})  # as a browser sends a form: 9 bytes a letter
    assert len(body) > 64 * 1024
    client.force_login(counsellor)
    response = client.post(f"/console/questions/{claimed.pk}/save/", body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302, response.status_code
    assert ReplyEdit.objects.get(question=claimed).text == reply


@pytest.mark.parametrize("unit", [DEVANAGARI, BRAHMI], ids=["devanagari", "brahmi"])
def test_the_longest_reply_is_saved_through_the_api_in_any_script(counsellor, claimed, unit):
    reply = _text(unit, limits.REPLY_MAX_CHARS)
    assert len(reply) <= limits.REPLY_MAX_CHARS
    body = json.dumps({"text": reply})  # ensure_ascii: \u0928 or \ud804\udc13 escapes
    client = JsonClient()
    client.force_login(counsellor)
    response = client.post_json(f"/api/v1/console/questions/{claimed.pk}/edits", body)
    assert response.status_code == 201, response.content[:200]
    assert ReplyEdit.objects.get(question=claimed).text == reply


def test_the_byte_limits_follow_from_the_character_limits():
    worst = "%F0%91%80%93"  # one 4-byte character, percent-encoded, as in a form
    approve = f"text={worst * limits.REPLY_MAX_CHARS}&override_reason=" \
              f"{worst * limits.REASON_MAX_CHARS}&csrfmiddlewaretoken={'x' * 64}"
    assert len(approve) < settings.API_MAX_BODY_BYTES
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.API_MAX_BODY_BYTES
    assert limits.body_max_bytes(limits.QUESTION_MAX_CHARS) == settings.API_MAX_BODY_BYTES
    # A larger question limit raises the body limit with it.
    assert limits.body_max_bytes(100_000) > 100_000 * 12


def test_a_body_limit_below_what_the_characters_need_is_refused():
    env = {**os.environ, "PSY_API_MAX_BODY_BYTES": str(64 * 1024), "PSY_HTTPS": "0",
           "DJANGO_SETTINGS_MODULE": "psyconsole.settings"}
    result = subprocess.run([sys.executable, "-c", "from django.conf import settings; "
                             "settings.API_MAX_BODY_BYTES"], env=env, capture_output=True,
                            text=True, cwd=settings.BASE_DIR, timeout=120)
    assert result.returncode != 0
    assert "PSY_API_MAX_BODY_BYTES must be at least" in result.stderr
