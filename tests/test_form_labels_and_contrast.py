"""Every form control on the question and audit pages has a label, and the risk badges
and warning text reach WCAG AA contrast (4.5:1) in console.css."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from psyconsole.questions.services.review import do_approve, do_claim
from tests.factories import ROOT, make_drafted_question

pytestmark = pytest.mark.django_db


class _Controls(HTMLParser):
    """Form controls (name, id, aria-label) and the ids that labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labelled: set[str] = set()
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labelled.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden",
                                                                               "radio",
                                                                               "checkbox"):
            self.controls.append({**a, "_wrapped": "1" if self._label_depth else ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1


def _unlabelled(html: str) -> list[str]:
    parser = _Controls()
    parser.feed(html)
    return [c.get("name", "?") for c in parser.controls
            if not (c["_wrapped"] or c.get("aria-label") or c.get("id") in parser.labelled)]


def test_the_question_page_labels_every_control(client: Any, counsellor: Any) -> None:
    question = make_drafted_question()
    do_claim(question, counsellor)
    client.force_login(counsellor)
    assert _unlabelled(client.get(f"/console/questions/{question.pk}/").content.decode()) == []


def test_the_audit_page_labels_the_note(client: Any, counsellor: Any,
                                        supervisor: Any) -> None:
    question = make_drafted_question()
    do_claim(question, counsellor)
    do_approve(question, counsellor, "A reply about sleep.")
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert 'name="note"' in page
    assert _unlabelled(page) == []


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("level", ["imminent", "high", "moderate", "low", "none"])
def test_risk_colours_reach_aa_contrast_on_white(level: str) -> None:
    css = (ROOT / "psyconsole" / "static" / "css" / "console.css").read_text()
    colour = re.search(rf"--{level}:(#[0-9a-fA-F]{{6}})", css)
    assert colour, level
    # White badge text on the colour; for moderate also warning text on a white panel.
    assert _contrast(colour.group(1), "#ffffff") >= 4.5
