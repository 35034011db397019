"""One shift's pages in a real browser, each scanned with axe-core (0 serious or critical
violations), and the fixes that only a browser shows: the queue's past-work filters, the
escalation seen by a counsellor and a supervisor, withdrawing from the tracking page,
the queue clocks ticking between events, and the queue at a phone's 390 px.

One test visits every page, to keep the browser tests' share of CI time small."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings

from psyconsole.questions import roles
from psyconsole.questions.models import Question, Review
from tests.browser.conftest import axe_violations, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

EVERYDAY = "I lie awake every night worrying about my exams."
WITHDRAWN = "My flatmate and I keep arguing about the washing up."
CRISIS = "I have the pills in front of me and I'm going to take them all tonight."
REPLY = ("Thank you for writing. Worry at night before exams is very common. A short "
         "wind-down routine and a fixed time to stop revising can help you rest.")
REASON = "A plan and the means: I want a supervisor to take this one."


def _ask(page: Any, text: str) -> str:
    page.goto("/")
    page.fill("textarea[name=text]", text)
    page.click("button:has-text('Send my question')")
    page.wait_for_url(re.compile(r"/track/"))
    return page.url


def _accept_confirms(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_every_page_passes_axe_and_the_console_works_for_a_shift(open_page: Any) -> None:
    make_user("casey", roles.COUNSELLOR)
    make_user("sam", roles.SUPERVISOR)
    make_user("ada", roles.ADMIN)
    found: dict[str, list[str]] = {}

    def scan(page: Any, name: str) -> None:
        found[name] = axe_violations(page)

    # The client: the form, the tracking page, and withdrawing from it.
    client = open_page("/")
    scan(client, "ask")
    track_url = _ask(client, EVERYDAY)
    scan(client, "tracking")
    assert "Received — a counsellor will reply" in client.inner_text("main")
    assert "Screened" not in client.inner_text("main")
    _ask(client, WITHDRAWN)
    _accept_confirms(client)
    client.click("button:has-text('Withdraw my question')")
    client.locator(".messages", has_text="withdrawn").wait_for()
    assert "Withdrawn — you closed this question" in client.inner_text("main")
    assert Question.objects.get(text=WITHDRAWN).status == "withdrawn"
    _ask(client, CRISIS)
    crisis = Question.objects.get(text=CRISIS)
    everyday = Question.objects.get(text=EVERYDAY)

    # A counsellor: the login page, the queue, a question unclaimed, claimed, delivered.
    casey = open_page("/accounts/login/")
    scan(casey, "login")
    sign_in(casey, "casey")
    casey.locator("#queue-rows tr", has_text=str(everyday.pk)).wait_for()
    scan(casey, "queue")
    casey.goto(f"/console/questions/{everyday.pk}/")
    scan(casey, "question: unclaimed")
    casey.click("button:has-text('Claim for review')")
    editor = casey.locator(".editor textarea[name=text]")
    editor.wait_for()
    scan(casey, "question: claimed")
    # The daphne screener may rate worry moderate, which needs the crisis resources.
    editor.fill(REPLY + "\n\n" + "\n".join(settings.CRISIS_RESOURCES))
    _accept_confirms(casey)
    casey.click("button:has-text('Approve and send')")
    casey.locator(".messages", has_text="Approved and delivered").wait_for()
    casey.goto(f"/console/questions/{everyday.pk}/")
    scan(casey, "question: delivered")
    client.goto(track_url)
    assert "Replied" in client.inner_text("main")
    assert REPLY in client.inner_text(".reply")

    # Past work is found by the status filter (htmx swaps the rows in).
    casey.goto("/console/")
    casey.select_option("select[name=status]", "delivered")
    casey.locator("#queue-rows tr", has_text=str(everyday.pk)).wait_for()
    assert "No open questions" not in casey.inner_text("#queue-rows")
    casey.select_option("select[name=status]", "withdrawn")
    casey.locator("#queue-rows tr", has_text="washing up").wait_for()

    # The counsellor escalates the crisis: it leaves their banner, reaches a supervisor's.
    casey.goto(f"/console/questions/{crisis.pk}/")
    casey.click("button:has-text('Claim for review')")
    casey.locator(".editor").wait_for()
    casey.click("summary:has-text('Reject or escalate')")
    casey.fill("textarea[name=reason]", REASON)
    casey.click("button:has-text('Escalate to supervisor')")
    casey.locator(".messages", has_text="Escalated").wait_for()
    assert f"#{crisis.pk}" not in casey.inner_text("#alerts")

    sam = open_page("/")
    sign_in(sam, "sam")
    assert f"Unclaimed {crisis.risk_level}-risk question #{crisis.pk}" in sam.inner_text(
        "#alerts")
    sam.goto(f"/console/questions/{crisis.pk}/")
    top = sam.locator(".escalation")
    assert REASON in top.inner_text()
    scan(sam, "question: escalated")
    for path in ("/console/audit/", "/console/annotations/assigned/", "/console/agreement/",
                 "/console/dashboard/"):
        sam.goto(path)
        scan(sam, path)
    sam.goto(f"/console/reviews/{Review.objects.get(question=everyday).pk}/audit/")
    scan(sam, "audit view")

    ada = open_page("/")
    sign_in(ada, "ada")
    for path in ("/console/exports/", "/console/retrain/"):
        ada.goto(path)
        scan(ada, path)

    assert {name: v for name, v in found.items() if v} == {}


def test_the_queue_at_390_px_and_its_clocks_tick(open_page: Any) -> None:
    make_user("casey", roles.COUNSELLOR)
    client = open_page("/")
    _ask(client, EVERYDAY)
    phone = open_page("/", viewport={"width": 390, "height": 844})
    phone.clock.install()
    sign_in(phone, "casey")
    waiting = phone.locator("#queue-rows td[data-since]").first
    waiting.wait_for()

    # Nothing but the table's own box scrolls sideways, and every filter is on screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("status", "topic", "risk"):
        box = phone.locator(f"select[name={name}]").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
    assert axe_violations(phone) == []

    # No event arrives, yet the clocks move on: two minutes later the row says so.
    assert waiting.inner_text().startswith("0")
    phone.clock.fast_forward("02:00")
    phone.locator("#queue-rows td[data-since]", has_text=re.compile(r"^2\s*minutes")).wait_for()
    assert re.match(r"in \d", phone.inner_text("#queue-rows [data-due]"))
