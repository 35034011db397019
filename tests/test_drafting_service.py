"""The worker's drafting service: grounded drafts, idempotency, leases and failure."""

from __future__ import annotations

import itertools

import pytest
from django.conf import settings

from inference.drafting import post_process
from psyconsole.questions import states
from psyconsole.questions.models import Draft, Question, Status
from psyconsole.questions.services import drafting, intake
from retrieval.service import Passage

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(tiny_model, corpus_index):
    return None


def test_it_drafts_a_grounded_reply_and_records_how(ready):
    question = intake.do_submit_question("I can't fall asleep at night").question
    (draft,) = drafting.do_generate_draft(question.pk)
    question.refresh_from_db()
    assert question.status == Status.DRAFTED
    assert draft.model_version.name == "tiny-smollm2"
    assert draft.passages and draft.passages[0]["article_title"]
    assert {"chunk_id", "score", "url", "text"} <= set(draft.passages[0])
    assert draft.prompt[1]["content"].count("<client_message>") == 1
    assert draft.completion_tokens > 0 and draft.prompt_tokens > 0
    assert {"retrieval_ms", "generation_ms", "first_token_ms"} <= set(draft.timings)
    assert "Sources:" in draft.text
    assert [e.action for e in question.audit_events.all()][-2:] == ["drafting", "drafted"]


def test_drafting_twice_makes_one_draft(ready):
    question = intake.do_submit_question("I feel lonely").question
    drafting.do_generate_draft(question.pk)
    assert drafting.do_generate_draft(question.pk) == []
    assert Draft.objects.filter(question=question).count() == 1


def test_a_question_under_a_live_drafting_lease_is_not_drafted_again(ready):
    question = intake.do_submit_question("I feel lonely").question
    states.transition(question, Status.DRAFTING, states.WORKER,
                      drafting_lease_expires_at="2999-01-01T00:00:00Z")
    assert drafting.do_generate_draft(question.pk) == []
    assert not Draft.objects.exists()


def test_an_expired_drafting_lease_is_taken_over(ready):
    question = intake.do_submit_question("I feel lonely").question
    states.transition(question, Status.DRAFTING, states.WORKER,
                      drafting_lease_expires_at="2000-01-01T00:00:00Z")
    assert drafting.do_generate_draft(question.pk)
    actions = list(question.audit_events.values_list("action", flat=True))
    assert "draft_lease_expired" in actions


def test_a_failed_draft_leaves_the_question_redraftable(tiny_model, settings, tmp_path):
    settings.INDEX_DIR = tmp_path / "no-index"
    question = intake.do_submit_question("I feel lonely").question
    with pytest.raises(RuntimeError):
        drafting.do_generate_draft(question.pk)
    question.refresh_from_db()
    assert question.status == Status.SCREENED
    assert question.drafting_lease_expires_at is None
    assert "draft_failed" in question.audit_events.values_list("action", flat=True)


def test_a_withdrawn_question_is_not_drafted(ready):
    question = intake.do_submit_question("Never mind").question
    intake.do_withdraw(question)
    assert drafting.do_generate_draft(question.pk) == []


def test_risky_questions_get_crisis_resources_whatever_the_model_wrote(ready):
    question = intake.do_submit_question("I keep thinking about suicide").question
    (draft,) = drafting.do_generate_draft(question.pk)
    for line in settings.CRISIS_RESOURCES:
        assert line in draft.text
    assert any(f["rule"] == "crisis_resources_added" for f in draft.findings)


def _p(n: int) -> Passage:
    return Passage(n, 0.5, "s", f"Title {n}", f"/corpus/{n}/", "", "t", 0, 1)


def test_post_processing_lists_every_change():
    text, findings = post_process("See [1] and [7].", [_p(1), _p(2)], risky=False)
    rules = [f["rule"] for f in findings]
    assert "citation_removed" in rules
    assert "sources_listed" in rules
    assert "crisis_resources_added" not in rules
    assert text.startswith("See [1] and.")
    assert "[2] Title 2 (/corpus/2/)" in text


def test_post_processing_flags_unsafe_content_without_hiding_it():
    raw = "You have depression. Take sertraline 50mg daily."
    text, findings = post_process(raw, [_p(1)], risky=False)
    assert text.startswith(raw)  # flagged for the reviewer, not silently rewritten
    rules = {f["rule"] for f in findings}
    assert {"diagnosis", "medication_advice", "dose"} <= rules
    assert findings[0]["severity"] == "block"


def test_post_processing_does_not_duplicate_resources_already_present():
    raw = "Reply.\n" + "\n".join(settings.CRISIS_RESOURCES)
    text, findings = post_process(raw, [], risky=True)
    assert "crisis_resources_added" not in [f["rule"] for f in findings]
    assert text == raw


def test_the_sweeper_requeues_drafts_whose_worker_died(settings):
    stalled = intake.do_submit_question("I feel lonely").question
    states.transition(stalled, Status.DRAFTING, states.WORKER,
                      drafting_lease_expires_at="2000-01-01T00:00:00Z")
    live = intake.do_submit_question("I feel low").question
    states.transition(live, Status.DRAFTING, states.WORKER,
                      drafting_lease_expires_at="2999-01-01T00:00:00Z")
    settings.DRAFT_REQUEUE_AFTER_SECONDS = 3600
    assert drafting.do_sweep_stuck_drafts() == [stalled.pk]
    stalled.refresh_from_db()
    live.refresh_from_db()
    assert (stalled.status, live.status) == (Status.SCREENED, Status.DRAFTING)
    assert stalled.audit_events.last().action == "draft_lease_expired"


def test_the_sweeper_requeues_questions_left_without_a_draft(settings):
    waiting = intake.do_submit_question("I feel lonely").question
    settings.DRAFT_REQUEUE_AFTER_SECONDS = 3600
    assert drafting.do_sweep_stuck_drafts() == []
    settings.DRAFT_REQUEUE_AFTER_SECONDS = -1
    assert drafting.do_sweep_stuck_drafts() == [waiting.pk]


def test_the_sweeper_waits_again_after_a_requeue(settings):
    intake.do_submit_question("I feel lonely")
    settings.DRAFT_REQUEUE_AFTER_SECONDS = -1
    assert len(drafting.do_sweep_stuck_drafts()) == 1
    settings.DRAFT_REQUEUE_AFTER_SECONDS = 60
    assert drafting.do_sweep_stuck_drafts() == []


def test_a_redraft_follows_the_instruction_and_offers_candidates(ready):
    question = intake.do_submit_question("I feel lonely").question
    drafting.do_generate_draft(question.pk)
    drafts = drafting.do_generate_draft(question.pk, redraft=True, instruction="shorter",
                                        candidates=3)
    assert [d.candidate for d in drafts] == [0, 1, 2]
    assert all(d.instruction == "shorter" for d in drafts)
    assert "asks for this version: shorter" in drafts[0].prompt[1]["content"]
    assert question.drafts.count() == 4


@pytest.mark.parametrize(("instruction", "candidates"), [
    ("x" * 201, 1), ("ok", 0), ("ok", 4), ("ok", "2"), (5, 1),
])
def test_it_rejects_a_bad_redraft_request(counsellor, instruction, candidates):
    from django.core.exceptions import ValidationError

    question = intake.do_submit_question("I feel lonely").question
    with pytest.raises(ValidationError):
        drafting.do_request_redraft(question, counsellor, instruction, candidates)


def test_the_draft_streams_to_the_console_as_it_is_written(ready, monkeypatch):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from psyconsole.questions.events import question_group

    monkeypatch.setattr(drafting, "STREAM_INTERVAL_SECONDS", 0)
    layer = get_channel_layer()
    question = intake.do_submit_question("I can't sleep").question
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(question_group(question.pk), listener)
    (draft,) = drafting.do_generate_draft(question.pk)

    async def drain() -> list[str]:
        texts = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(listener), timeout=1)
            except TimeoutError:
                return texts
            if message["event"] == "draft.progress":
                texts.append(message["text"])

    streamed = async_to_sync(drain)()
    assert streamed, "no text reached the channel layer"
    assert all(b.startswith(a) for a, b in itertools.pairwise(streamed))
    assert draft.raw_text.startswith(streamed[-1].strip())


def test_a_cancelled_draft_is_discarded_and_the_question_stays_redraftable(ready, counsellor,
                                                                         monkeypatch):
    question = intake.do_submit_question("I can't sleep").question
    monkeypatch.setattr(drafting, "CANCEL_POLL_SECONDS", 0)
    original = drafting._DraftWatch.on_text

    def cancel_on_first_text(self, text):  # the counsellor presses Cancel mid-draft
        drafting.do_cancel_draft(Question.objects.get(pk=self.question_id), counsellor)
        original(self, text)

    monkeypatch.setattr(drafting._DraftWatch, "on_text", cancel_on_first_text)
    assert drafting.do_generate_draft(question.pk) == []
    question.refresh_from_db()
    assert question.status == Status.SCREENED and question.cancel_requested_at is None
    actions = list(question.audit_events.values_list("action", flat=True))
    assert actions[-2:] == ["cancel_draft", "draft_cancelled"]


def test_only_a_draft_in_progress_can_be_cancelled(counsellor):
    from psyconsole.questions.states import TransitionError

    question = intake.do_submit_question("I can't sleep").question
    with pytest.raises(TransitionError):
        drafting.do_cancel_draft(question, counsellor)
