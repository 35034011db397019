"""A crisis is never blocked by the model: claiming while drafting, take next during
drafting, a claim before drafting still drafted, and the counsellor's text kept."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import selectors
from psyconsole.questions.models import Draft, Question, ReplyEdit, Status
from psyconsole.questions.services import drafting, intake, review
from psyconsole.screening.levels import PRIORITY
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

Q = "/api/v1/console/questions"
CRISIS_TEXT = "I have the pills in front of me and I'm going to take them all tonight"


def _with_risk(question: Question, level: str) -> Question:
    # Test setup: pin the risk level, whatever the screener said.
    Question.objects.filter(pk=question.pk).update(risk_level=level, priority=PRIORITY[level])
    question.refresh_from_db()
    return question


def _drafting(text: str = CRISIS_TEXT, level: str = "imminent") -> Question:
    """A question the worker has leased and is drafting now (through the real service)."""
    question = _with_risk(intake.do_submit_question(text).question, level)
    started = drafting._start_drafting(question.pk, redraft=False, instruction="")
    assert started is not None
    question.refresh_from_db()
    assert question.status == Status.DRAFTING
    return question


@pytest.fixture
def ready(tiny_model: Any, corpus_index: Any) -> None:
    """The real drafting path: the tiny model and a real index."""


def test_a_drafting_question_can_be_claimed_through_the_api(staff_api, counsellor):
    question = _drafting()
    response = staff_api.post(f"{Q}/{question.pk}/claim")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "in_review" and body["claimed_by"] == "Casey"
    assert body["drafting"]["in_progress"] is True
    assert body["drafting"]["state"] == "drafting"
    question.refresh_from_db()
    # The worker keeps its lease beside the claim.
    assert question.drafting_lease_expires_at is not None
    assert question.claimed_by == counsellor and question.first_claimed_at is not None
    # The counsellor can write at once.
    saved = staff_api.post_json(f"{Q}/{question.pk}/edits", {"text": "I'm here with you."})
    assert saved.status_code == 201
    detail = staff_api.get(f"{Q}/{question.pk}").json()
    assert detail["current_reply"] == "I'm here with you."


def test_a_drafting_question_can_be_claimed_on_the_page(client, counsellor):
    question = _drafting()
    client.force_login(counsellor)
    before = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Claim for review" in before
    response = client.post(f"/console/questions/{question.pk}/claim/")
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert 'class="editor"' in page
    # The streamed draft has its own panel beside the editor, shown while drafting.
    assert '<div id="live-draft" class="live-draft">' in page
    assert "never replaces your text" in page
    assert "Stop the model&#x27;s draft" in page or "Stop the model's draft" in page
    response = client.post(f"/console/questions/{question.pk}/save/", {"text": "My words."})
    assert response.status_code == 302
    assert ReplyEdit.objects.get(question=question).text == "My words."


def test_take_next_picks_the_imminent_drafting_question_over_a_moderate_one(counsellor):
    moderate = _with_risk(make_drafted_question("I've been feeling low for weeks"), "moderate")
    imminent = _drafting()
    assert [q.pk for q in selectors.queue()][:2] == [imminent.pk, moderate.pk]
    taken = review.do_take_next(counsellor)
    assert taken.pk == imminent.pk
    assert taken.status == Status.IN_REVIEW and taken.drafting_lease_expires_at is not None
    assert review.do_take_next(counsellor).pk == moderate.pk


def test_take_next_through_the_api_during_drafting(staff_api):
    _with_risk(make_drafted_question("I've been feeling low for weeks"), "moderate")
    imminent = _drafting()
    response = staff_api.post("/api/v1/console/take-next")
    assert response.status_code == 200
    assert response.json()["id"] == imminent.pk
    assert response.json()["drafting"]["in_progress"] is True


@pytest.mark.parametrize(("text", "level"), [
    (CRISIS_TEXT, "imminent"),  # drafted alone
    ("I can't sleep before my exams", "low"),  # drafted in a batch
])
def test_a_question_claimed_before_drafting_still_gets_its_draft(ready, counsellor, text,
                                                                 level):
    question = _with_risk(intake.do_submit_question(text).question, level)
    review.do_claim(question, counsellor)
    drafts = drafting.do_generate_draft(question.pk)
    assert len(drafts) == 1
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW
    assert question.claimed_by == counsellor
    assert question.drafting_lease_expires_at is None
    events = list(question.audit_events.values_list("action", "from_state", "to_state"))
    assert events[-2:] == [("drafting", "in_review", "in_review"),
                           ("drafted", "in_review", "in_review")]
    assert selectors.current_reply_text(question) == drafts[0].text
    assert selectors.drafting_status(question)["state"] == "drafted"


def test_the_worker_does_not_clobber_the_counsellors_edit(ready, counsellor, monkeypatch):
    question = _with_risk(intake.do_submit_question(CRISIS_TEXT).question, "imminent")
    mine = "I'm really glad you told me. Are you safe right now?"
    original = drafting._DraftWatch.on_text
    claimed = []

    def claim_and_write_on_first_text(self: Any, text: str) -> None:
        if not claimed:  # a counsellor claims mid-draft and starts writing
            q = Question.objects.get(pk=self.question_id)
            assert q.status == Status.DRAFTING
            review.do_claim(q, counsellor)
            review.do_save_edit(q, counsellor, mine)
            claimed.append(True)
        original(self, text)

    monkeypatch.setattr(drafting._DraftWatch, "on_text", claim_and_write_on_first_text)
    drafts = drafting.do_generate_draft(question.pk)
    assert claimed and len(drafts) == 1
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert selectors.current_reply_text(question) == mine
    assert ReplyEdit.objects.get(question=question).text == mine
    assert Draft.objects.get(question=question).text != mine


def test_release_while_drafting_goes_back_to_drafting(staff_api):
    question = _drafting()
    staff_api.post(f"{Q}/{question.pk}/claim")
    response = staff_api.post(f"{Q}/{question.pk}/release")
    assert response.status_code == 200
    assert response.json()["status"] == "drafting"
    question.refresh_from_db()
    assert question.claimed_by is None and question.drafting_lease_expires_at is not None


def _fail_drafting(monkeypatch: Any) -> None:
    import inference.drafting

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the model ran out of memory")

    monkeypatch.setattr(inference.drafting, "compose_draft", broken)
    monkeypatch.setattr(inference.drafting, "compose_drafts", broken)


def test_failed_drafting_is_shown_with_write_without_a_draft(client, counsellor, staff_api,
                                                             monkeypatch):
    question = _with_risk(intake.do_submit_question(CRISIS_TEXT).question, "imminent")
    _fail_drafting(monkeypatch)
    with pytest.raises(RuntimeError):
        drafting.do_generate_draft(question.pk)
    question.refresh_from_db()
    assert question.status == Status.SCREENED

    detail = staff_api.get(f"{Q}/{question.pk}").json()
    assert detail["drafting"]["state"] == "failed"
    assert detail["drafting"]["offer_write_without_draft"] is True

    client.force_login(counsellor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Drafting failed" in page
    form_start = page.index('class="write-without-draft"')
    assert "hidden" not in page[form_start:page.index(">", form_start)]
    assert "Write without a draft" in page

    response = client.post(f"/console/questions/{question.pk}/write/")
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert question.audit_events.filter(action="write_without_draft").exists()
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert 'class="editor"' in page


def test_a_failure_beside_a_claim_keeps_the_claim(counsellor, monkeypatch):
    question = _with_risk(intake.do_submit_question(CRISIS_TEXT).question, "imminent")
    review.do_claim(question, counsellor)
    _fail_drafting(monkeypatch)
    with pytest.raises(RuntimeError):
        drafting.do_generate_draft(question.pk)
    question.refresh_from_db()
    assert question.status == Status.IN_REVIEW and question.claimed_by == counsellor
    assert question.drafting_lease_expires_at is None
    assert selectors.drafting_status(question)["state"] == "failed"


def test_slow_drafting_is_shown_with_write_without_a_draft(client, counsellor, settings):
    question = _drafting()
    client.force_login(counsellor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Drafting is slow" not in page
    form_start = page.index('class="write-without-draft"')
    assert "hidden" in page[form_start:page.index(">", form_start)]  # revealed when slow
    assert "data-slow-at=" in page

    settings.DRAFT_SLOW_SECONDS = 0
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "Drafting is slow" in page
    form_start = page.index('class="write-without-draft"')
    assert "hidden" not in page[form_start:page.index(">", form_start)]
    detail = JsonClient()
    detail.force_login(counsellor)
    drafting = detail.get(f"{Q}/{question.pk}").json()["drafting"]
    assert drafting["state"] == "slow" and drafting["in_progress"] is True
    assert drafting["offer_write_without_draft"] is True

    # The counsellor writes and approves their own text while the model is still writing.
    assert detail.post(f"{Q}/{question.pk}/write-without-draft").status_code == 200
    own = "I'm so sorry you're in this much pain. Are you safe right now?"
    response = detail.post_json(f"{Q}/{question.pk}/approve", {"text": own})
    # A crisis reply without the crisis resources is stopped by the final-text check.
    assert response.status_code == 422
    from django.conf import settings as live

    response = detail.post_json(f"{Q}/{question.pk}/approve", {
        "text": own + "\n\n" + "\n".join(live.CRISIS_RESOURCES),
        "override_reason": "Written by hand while the model was slow; reviewed the crisis "
                           "structure myself."})
    assert response.status_code == 200, response.content
    question.refresh_from_db()
    assert question.status == Status.DELIVERED
    assert question.drafting_lease_expires_at is None  # the worker's draft is not wanted now
    assert response.json()["final_text"].startswith(own)
