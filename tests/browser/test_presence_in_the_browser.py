"""Presence in a real browser: two counsellors open the same question; each sees the
other as "Also viewing" (the first without a reload), and once one claims it the other
sees "Claimed by ..." and is not offered the claim."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import roles
from psyconsole.questions.models import Question
from tests.browser.conftest import sign_in
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _open_question(page: Any, question_id: int) -> None:
    """Opens the page and waits for its socket's first message: the server's answer to
    its arrival, so the page is counted from here on. (Frames are collected from the
    socket's creation: the first may come before the page has finished loading.)"""
    heard: list[Any] = []

    def watch(ws: Any) -> None:
        ws.on("framereceived", lambda payload: heard.append(payload))

    page.on("websocket", watch)
    page.goto(f"/console/questions/{question_id}/")
    for _ in range(200):
        if heard:
            break
        page.wait_for_timeout(50)
    page.remove_listener("websocket", watch)
    assert heard, "the question page's websocket heard nothing"


def test_two_counsellors_see_each_other_and_the_claim(open_page: Any) -> None:
    make_user("casey", roles.COUNSELLOR)
    make_user("robin", roles.COUNSELLOR)
    casey = open_page("/")
    asked = casey.request.post("/api/v1/questions",
                               data={"text": "I can't sleep before my exams."})
    assert asked.status == 201
    question = Question.objects.get()

    sign_in(casey, "casey")
    _open_question(casey, question.pk)
    assert casey.locator("#presence .also-viewing").text_content() == ""

    robin = open_page("/")
    sign_in(robin, "robin")
    _open_question(robin, question.pk)
    robin.locator("#presence .also-viewing", has_text="Also viewing: Casey").wait_for(
        timeout=5_000)
    # Casey's page, open all along, hears of Robin live; nobody is listed as themselves.
    casey.locator("#presence .also-viewing", has_text="Also viewing: Robin").wait_for(
        timeout=5_000)
    assert "Robin" not in robin.locator("#presence").inner_text()
    assert robin.locator("#presence").get_attribute("aria-live") == "polite"

    casey.click("button:has-text('Claim for review')")
    casey.locator(".editor textarea[name=text]").wait_for()
    robin.locator("#presence .claimed-by", has_text="Claimed by Casey").wait_for(
        timeout=5_000)
    robin.locator("#presence .also-viewing", has_text="Also viewing: Casey").wait_for(
        timeout=5_000)
    assert robin.locator("button:has-text('Claim for review')").count() == 0
