"""A crisis, driven in a real browser: the client asks through the public form, the alert
reaches a counsellor's open queue without a reload, Take next picks the crisis over an
older question, the counsellor writes at once with no worker running, the final text
is checked, the draft streams in beside their text when a worker starts, and the client
reads the approved reply."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings

from psyconsole.questions import roles
from psyconsole.questions.models import Question
from tests.browser.conftest import sign_in
from tests.factories import make_user
from tests.live import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

CRISIS = "I have the pills in front of me and I'm going to take them all tonight."


def ask(page: Any, text: str) -> None:
    """A client asks through the public form and lands on their tracking page."""
    page.goto("/")
    page.fill("textarea[name=text]", text)
    page.click("button:has-text('Send my question')")
    page.wait_for_url(re.compile(r"/track/"))


def _accept_confirms(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_a_crisis_is_alerted_taken_answered_and_drafted_around_the_counsellor(
        open_page: Any, worker_env: dict[str, str]) -> None:
    make_user("casey", roles.COUNSELLOR)
    client = open_page("/")
    ask(client, "I lie awake every night worrying about work.")
    older = Question.objects.get()

    console = open_page("/")
    sign_in(console, "casey")
    console.locator("#live-state").filter(has_text=re.compile("^live$")).wait_for()

    ask(client, CRISIS)
    crisis = Question.objects.exclude(pk=older.pk).get()
    assert crisis.risk_level in {"high", "imminent"}

    # The alert arrives on the open queue, without a reload.
    alert = console.locator("#alerts .alert", has_text=f"question #{crisis.pk}")
    alert.wait_for()
    assert f"{crisis.risk_level}-risk" in alert.inner_text()
    console.locator("#queue-rows tr").first.filter(has_text=str(crisis.pk)).wait_for()

    # No worker is running: Take next still hands over the crisis, not the older one.
    console.click("button:has-text('Take next')")
    console.wait_for_url(f"**/console/questions/{crisis.pk}/")
    reply = console.locator(".editor textarea[name=text]")
    status = console.locator("#drafting-status")
    assert status.is_visible()

    # The counsellor's own text is checked like a draft: a dose is refused, the text kept.
    _accept_confirms(console)
    unsafe = "Please take 50 mg of sertraline and call me on 07700 900123."
    reply.fill(unsafe)
    console.click("button:has-text('Approve and send')")
    blocked = console.locator(".blocked")
    blocked.wait_for()
    assert "final-text check" in blocked.inner_text()
    assert console.locator(".editor textarea[name=text]").input_value() == unsafe

    mine = ("Thank you for telling me this. I'm really glad you reached out, and I'm taking it "
            "seriously. Are you safe right now? Please call your local emergency number or a "
            "crisis line now, and ask someone to come and be with you. Put distance between "
            "yourself and the pills: give them to someone to keep. "
            + " ".join(settings.CRISIS_RESOURCES))
    console.locator(".editor textarea[name=text]").fill(mine)

    # The question was claimed before its draft started; a worker starting now still
    # drafts it, and the draft appears beside the counsellor's text, never in it.
    worker = WorkerProcess(worker_env)
    try:
        console.locator("#live-draft pre").filter(has_text=re.compile(r"\S")).wait_for(
            timeout=90_000)
        console.locator("#drafting-status", has_text="ready").wait_for()
    finally:
        worker.stop()
    assert console.locator(".editor textarea[name=text]").input_value() == mine

    console.click("button:has-text('Approve and send')")
    console.locator(".messages", has_text="Approved and delivered").wait_for()
    assert Question.objects.get(pk=crisis.pk).status == "delivered"

    client.reload()
    assert "Thank you for telling me this" in client.locator(".reply").inner_text()
    assert "reviewed" in client.locator(".disclosure").inner_text()
