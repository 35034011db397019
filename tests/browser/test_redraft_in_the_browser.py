"""Redraft after an edit, in a real browser with a real worker: the counsellor edits the
draft, asks for a new one with an alternative while keeping the claim, and the new draft
arrives beside their text (live, and again after a reload) with the alternative listed;
their text is never replaced, and "Add the draft below my text" appends it."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import roles
from psyconsole.questions.models import Draft, Question
from tests.browser.conftest import sign_in
from tests.browser.test_crisis_in_the_console import ask
from tests.factories import make_user
from tests.live import WorkerProcess, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)

MINE = "I'm sorry exams are keeping you awake. Here is what I would try first."


def test_a_redraft_after_an_edit_arrives_beside_the_counsellors_text(
        open_page: Any, worker_env: dict[str, str]) -> None:
    make_user("casey", roles.COUNSELLOR)
    # Three drafts are written (the first, then a redraft with one alternative): short
    # ones keep the test quick, and their text is all that is compared.
    worker = WorkerProcess({**worker_env, "PSY_LLM_MAX_NEW_TOKENS": "8"})
    try:
        client = open_page("/")
        ask(client, "I can't sleep before my exams and I feel tired all day.")
        question = Question.objects.get()
        wait_for_status(question.pk, "drafted", timeout=90, worker=worker)  # the first draft

        console = open_page("/")
        sign_in(console, "casey")
        console.goto(f"/console/questions/{question.pk}/")
        console.click("button:has-text('Claim for review')")
        reply = console.locator(".editor textarea[name=text]")
        reply.fill(MINE)
        # The saved page opens its websocket, which the finished redraft is pushed on.
        with console.expect_websocket():
            console.click("button:has-text('Save edit')")
        console.locator(".messages", has_text="Your edit is saved").wait_for()

        # Asked for while holding the claim: no release, and the edit stays in the editor.
        console.select_option("form.redraft select[name=candidates]", "2")
        console.click("form.redraft button:has-text('Request')")
        console.locator(".messages", has_text="A new draft has been requested").wait_for()
        console.locator("#live-draft .live-label", has_text="finished").wait_for(
            timeout=90_000)
    finally:
        worker.stop()

    first, alternative = list(Draft.objects.filter(question=question).order_by("-id")[:2])[::-1]
    assert (first.candidate, alternative.candidate) == (0, 1)
    assert console.locator(".editor textarea[name=text]").input_value() == MINE
    assert console.locator("#live-draft pre").text_content() == first.text
    assert console.locator("#alternatives pre").all_text_contents() == [alternative.text]

    console.click("button:has-text('Add the draft below my text')")
    assert console.locator(".editor textarea[name=text]").input_value() == \
        MINE + "\n\n" + first.text

    console.reload()  # the saved edit, with the new draft beside it, as the page renders it
    assert console.locator(".editor textarea[name=text]").input_value() == MINE
    assert console.locator("#live-draft").is_visible()
    # (HTML drops a newline that opens a <pre>, so rendered text is compared stripped.)
    assert console.locator("#live-draft pre").text_content().strip() == first.text.strip()
    assert [t.strip() for t in console.locator("#alternatives pre").all_text_contents()] == \
        [alternative.text.strip()]
