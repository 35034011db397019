"""A question whose client asked for no AI is ready for a counsellor at once: take next
hands it out without waiting for a draft, the counsellor writes without one, and the
delivered reply never claims that AI drafted it."""

from __future__ import annotations

import pytest
from django.conf import settings

from psyconsole.questions.models import Question, Status

pytestmark = pytest.mark.django_db

REPLY = ("Thank you for writing. Try keeping the same wake-up time every day, and a quiet "
         "half hour before bed.")


def test_take_next_hands_it_out_and_the_reply_says_no_ai_was_used(api, staff_api):
    created = api.post_json("/api/v1/questions", {"text": "I can't sleep before exams.",
                                                  "human_only": True}).json()
    taken = staff_api.post_json("/api/v1/console/take-next")
    assert taken.status_code == 200
    assert taken.json()["id"] == created["id"]
    assert taken.json()["human_only"] is True
    written = staff_api.post_json(
        f"/api/v1/console/questions/{created['id']}/write-without-draft")
    assert written.status_code == 200
    approved = staff_api.post_json(f"/api/v1/console/questions/{created['id']}/approve",
                                   {"text": REPLY})
    assert approved.status_code == 200, approved.content
    assert Question.objects.get(pk=created["id"]).status == Status.DELIVERED

    tracked = api.get(f"/api/v1/questions/{created['tracking_code']}").json()
    assert tracked["human_only"] is True
    assert tracked["reply"]["disclosure"] == settings.HUMAN_ONLY_DISCLOSURE
    assert "AI model" not in tracked["notice"]
    page = api.get(f"/track/{created['tracking_code']}/").content.decode()
    assert "written and reviewed by a named professional counsellor, without AI" in page
    assert "drafted with the help of an AI model" not in page


def test_an_ordinary_reply_keeps_the_ai_disclosure(api, staff_api, drafted_question):
    staff_api.post_json(f"/api/v1/console/questions/{drafted_question.pk}/claim")
    staff_api.post_json(f"/api/v1/console/questions/{drafted_question.pk}/approve",
                        {"text": REPLY})
    tracked = api.get(f"/api/v1/questions/{drafted_question.tracking_code}").json()
    assert tracked["human_only"] is False
    assert tracked["reply"]["disclosure"] == settings.AI_DISCLOSURE
