"""A redraft asked for after an edit: the counsellor keeps the claim, their edited text is
never overwritten, and the new draft (with its alternatives) is shown beside it, live
(the drafting.ended push) and after a reload (the page)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from inference.drafting import ComposedDraft
from psyconsole.questions import selectors
from psyconsole.questions.events import question_group
from psyconsole.questions.models import Question, ReplyEdit, Status
from psyconsole.questions.services import drafting, review
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

MINE = "My own words, which the new draft must not replace."
PAGE = "/console/questions/{}/"


@pytest.fixture
def queued(monkeypatch: Any) -> list[tuple[Any, Any]]:
    """The drafting tasks queued (args, kwargs), instead of sending them to a broker. The
    test's transaction never commits, so drafting's on-commit queueing runs at once."""
    from django.db import transaction

    class _CommitAtOnce:
        atomic = staticmethod(transaction.atomic)

        @staticmethod
        def on_commit(func: Any, **kwargs: Any) -> None:
            func()

    calls: list[tuple[Any, Any]] = []
    monkeypatch.setattr(drafting, "transaction", _CommitAtOnce)
    monkeypatch.setattr(drafting.draft_question, "apply_async",
                        lambda args, kwargs, **options: calls.append((args, kwargs)))
    return calls


@pytest.fixture
def fake_model(monkeypatch: Any) -> None:
    """The worker's drafting path without a model: each candidate has its own text."""
    import inference.drafting

    def compose(question_text: str, *, instruction: str = "", on_text: Any = None,
                sample_seed: int | None = None, **kwargs: Any) -> ComposedDraft:
        text = f"New draft ({instruction or 'plain'}), candidate {sample_seed or 0}."
        if on_text is not None:
            on_text(text)
        return ComposedDraft(text=text, raw_text=text, messages=[], passages=[],
                             model_name="fake-model")

    monkeypatch.setattr(inference.drafting, "compose_draft", compose)


def _claimed_and_edited(client: Any, counsellor: Any, queued: list[Any]) -> Question:
    question = make_drafted_question()
    queued.clear()  # the first draft's task, queued at intake
    client.force_login(counsellor)
    assert client.post(PAGE.format(question.pk) + "claim/").status_code == 302
    assert client.post(PAGE.format(question.pk) + "save/", {"text": MINE}).status_code == 302
    return question


def _live_draft(page: str) -> str:
    match = re.search(r'<div id="live-draft"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no live-draft panel"
    assert "hidden" not in match.group(0)[:match.group(0).index(">")]
    return match.group(1)


def test_the_claims_holder_can_ask_for_a_redraft_after_an_edit(client, counsellor, queued):
    question = _claimed_and_edited(client, counsellor, queued)
    page = client.get(PAGE.format(question.pk)).content.decode()
    assert 'class="redraft"' in page  # offered without releasing the claim

    response = client.post(PAGE.format(question.pk) + "redraft/",
                           {"instruction": "shorter", "candidates": "2"}, follow=True)
    assert "A new draft has been requested." in response.content.decode()
    assert queued == [((question.pk,), {"redraft": True, "instruction": "shorter",
                                        "candidates": 2})]
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert question.audit_events.filter(action="redraft_requested").exists()


def test_the_new_draft_is_shown_beside_the_edit_with_its_alternatives(
        client, counsellor, queued, fake_model):
    question = _claimed_and_edited(client, counsellor, queued)
    client.post(PAGE.format(question.pk) + "redraft/", {"instruction": "shorter",
                                                        "candidates": "2"})
    ((args, kwargs),) = queued
    drafts = drafting.do_generate_draft(*args, **kwargs)  # what the worker runs
    assert [d.text for d in drafts] == ["New draft (shorter), candidate 0.",
                                        "New draft (shorter), candidate 1."]

    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert selectors.current_reply_text(question) == MINE
    assert ReplyEdit.objects.filter(question=question).count() == 1  # the worker wrote none

    page = client.get(PAGE.format(question.pk)).content.decode()
    editor = page[page.index('class="editor"'):page.index("</form>", page.index('class="editor"'))]
    assert MINE in editor and "New draft" not in editor
    live = _live_draft(page)
    assert "New draft (shorter), candidate 0." in live
    assert "Add the draft below my text" in live
    assert 'id="alternatives"' in page
    assert "Alternative draft 2" in page and "New draft (shorter), candidate 1." in page


def test_a_redraft_asked_unclaimed_still_arrives_after_a_claim(counsellor, queued, fake_model):
    question = make_drafted_question()
    queued.clear()  # the first draft's task, queued at intake
    drafting.do_request_redraft(question, counsellor, "warmer", 1)
    review.do_claim(question, counsellor)  # before the worker starts
    review.do_save_edit(question, counsellor, MINE)
    ((args, kwargs),) = queued
    (draft,) = drafting.do_generate_draft(*args, **kwargs)
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert question.drafting_lease_expires_at is None
    assert selectors.current_draft(question) == draft
    assert selectors.current_reply_text(question) == MINE


def test_the_finished_redraft_is_pushed_with_its_alternatives(
        counsellor, queued, fake_model, django_capture_on_commit_callbacks):
    question = make_drafted_question()
    queued.clear()  # the first draft's task, queued at intake
    review.do_claim(question, counsellor)
    drafting.do_request_redraft(question, counsellor, "", 2)
    layer = get_channel_layer()
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(question_group(question.pk), listener)
    ((args, kwargs),) = queued
    with django_capture_on_commit_callbacks(execute=True):
        drafting.do_generate_draft(*args, **kwargs)

    async def ended() -> dict[str, Any]:
        while True:
            message = await asyncio.wait_for(layer.receive(listener), timeout=2)
            if message["event"] == "drafting.ended":
                return message

    message = async_to_sync(ended)()
    assert message["outcome"] == "drafted"
    assert message["text"] == "New draft (plain), candidate 0."
    assert message["alternatives"] == ["New draft (plain), candidate 1."]


def test_only_the_claims_holder_may_redraft_a_claimed_question(
        client, counsellor, other_counsellor, queued):
    question = make_drafted_question()
    queued.clear()  # the first draft's task, queued at intake
    review.do_claim(question, counsellor)
    client.force_login(other_counsellor)
    response = client.post(PAGE.format(question.pk) + "redraft/", {"candidates": "1"},
                           follow=True)
    assert "claimed by someone else" in response.content.decode()
    assert queued == []
    assert not question.audit_events.filter(action="redraft_requested").exists()


def test_no_second_redraft_while_the_model_is_still_writing(counsellor, queued):
    question = make_drafted_question()
    queued.clear()  # the first draft's task, queued at intake
    review.do_claim(question, counsellor)
    drafting.do_request_redraft(question, counsellor, "", 1)
    assert drafting._start_drafting(question.pk, redraft=True, instruction="") is not None
    question.refresh_from_db()
    with pytest.raises(drafting.TransitionError, match="still writing"):
        drafting.do_request_redraft(question, counsellor, "", 1)
    assert len(queued) == 1
