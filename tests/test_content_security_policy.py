"""A Content-Security-Policy with no 'unsafe-inline' (django-csp) on every page, and no
inline script, handler or style attribute left in the templates for it to refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import ROOT

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in
            (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/admin/login/", "/api/v1/docs",
                                  "/healthz"])
def test_every_response_has_a_strict_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_console_may_open_its_websocket(staff_client):
    policy = _policy(staff_client.get("/console/"))
    assert {"'self'", "ws:", "wss:"} <= set(policy["connect-src"])


@pytest.fixture
def staff_client(client, counsellor):
    client.force_login(counsellor)
    return client


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"),
     "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_template_has_inline_script_or_style():
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")) + sorted(
            (ROOT / "psyconsole").rglob("templates/**/*.html")):
        text = Path(template).read_text(encoding="utf-8")
        found += [f"{template.relative_to(ROOT)}: {what}"
                  for pattern, what in INLINE if pattern.search(text)]
    assert not found, found


def test_confirmations_come_from_a_static_script(client, counsellor):
    # The handlers that were onclick="return confirm(...)" are data-confirm now, and the
    # script that reads them is on every page.
    page = client.get("/").content.decode()
    assert "js/confirm.js" in page
    assert "includeIndicatorStyles" in page
    question = (ROOT / "templates" / "console" / "question.html").read_text()
    track = (ROOT / "templates" / "public" / "track.html").read_text()
    assert 'data-confirm="Approve and send this reply to the client?"' in question
    assert 'data-confirm="Withdraw your question?' in track
