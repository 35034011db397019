"""The public form's "without AI drafting" checkbox: stored, confirmed on the tracking
page, and shown to counsellors on the question page and in the queue."""

from __future__ import annotations

import re

import pytest

from psyconsole.questions.models import Question

pytestmark = pytest.mark.django_db

LABEL = "I would like my reply written by a counsellor, without AI drafting"
CONFIRMED = "You asked for a reply written by a counsellor without AI."


def _ask(client, **extra) -> Question:
    response = client.post("/", {"text": "I can't sleep before exams.", "contact": "",
                                 **extra})
    assert response.status_code == 302, response.content
    return Question.objects.latest("pk")


def test_the_form_has_a_labelled_checkbox(client):
    page = client.get("/").content.decode()
    box = re.search(r'<input type="checkbox" name="human_only"[^>]*id="(\w+)"', page)
    assert box, page
    assert re.search(rf'<label for="{box.group(1)}">{re.escape(LABEL)}', page)


def test_ticked_it_is_stored_and_the_tracking_page_confirms_it(client):
    question = _ask(client, human_only="on")
    assert question.human_only is True
    page = client.get(f"/track/{question.tracking_code}/").content.decode()
    assert CONFIRMED in page
    assert client.get(f"/api/v1/questions/{question.tracking_code}").json()["human_only"]


def test_left_unticked_nothing_changes(client):
    question = _ask(client)
    assert question.human_only is False
    assert CONFIRMED not in client.get(f"/track/{question.tracking_code}/").content.decode()
    assert client.get(f"/api/v1/questions/{question.tracking_code}").json()[
        "human_only"] is False


def test_the_console_shows_the_choice(client, counsellor):
    question = _ask(client, human_only="on")
    other = _ask(client)
    client.force_login(counsellor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "The client asked for a reply without AI: write it yourself" in page
    assert "No AI: the client's choice" in page
    assert 'class="redraft"' not in page  # no redraft button
    assert 'id="live-draft"' not in page  # no draft panel
    assert "Write without a draft" in page
    plain = client.get(f"/console/questions/{other.pk}/").content.decode()
    assert "without AI" not in plain and 'class="redraft"' in plain
    rows = client.get("/console/queue/rows/").content.decode()
    [marked] = [row for row in rows.split("<tr")[1:] if "No AI" in row]
    assert f">{question.pk}</td>" in marked
    api = client.get(f"/api/v1/console/questions/{question.pk}").json()
    assert api["human_only"] is True
    assert api["drafting"]["state"] == "human_only"
    assert api["drafting"]["offer_write_without_draft"] is True


def test_a_retry_that_changes_the_choice_is_another_question(api):
    first = api.post_json("/api/v1/questions", {"text": "Same question"},
                          HTTP_IDEMPOTENCY_KEY="k-1")
    changed = api.post_json("/api/v1/questions", {"text": "Same question", "human_only": True},
                            HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert changed.status_code == 422
    assert Question.objects.get().human_only is False
