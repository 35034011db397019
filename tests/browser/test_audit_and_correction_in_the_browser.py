"""The supervisor's desk in a real browser: a client asks, a counsellor approves over the
console API, a supervisor opens the reply's audit view, sees the word diff and sends a
correction, and the client's tracking page shows it under the original reply."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings

from inference.models import ModelVersion
from psyconsole.questions import roles
from psyconsole.questions.models import Draft, Question, Review
from tests.browser.conftest import PASSWORD, sign_in
from tests.browser.test_crisis_in_the_console import ask
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "I can't sleep before my exams and I lie awake worrying every night."
DRAFT = "Exams can keep anyone awake. Try a short routine before bed [1]."
# The daphne screener may rate worry moderate, which needs the crisis resources.
RESOURCES = "\n".join(settings.CRISIS_RESOURCES)
FINAL = f"Exams keep many people awake. Try a calm routine before bed [1].\n\n{RESOURCES}"
CORRECTION = ("A follow-up from our service: keeping the same bedtime every night, "
              f"weekends too, matters more than the routine itself.\n\n{RESOURCES}")


def test_a_supervisor_audits_in_the_browser_and_the_client_sees_the_correction(
        open_page: Any) -> None:
    make_user("casey", roles.COUNSELLOR)
    make_user("sam", roles.SUPERVISOR)
    client = open_page("/")
    ask(client, QUESTION)
    track_url = client.url
    question = Question.objects.get()
    # The model's draft, as a worker would have written it (no worker runs here: the
    # model is not what this test is about).
    version, _ = ModelVersion.objects.get_or_create(name="test-model",
                                                    defaults={"base_model": "test"})
    Draft.objects.create(question=question, model_version=version, text=DRAFT, raw_text=DRAFT,
                         prompt=[], prompt_version="test",
                         passages=[{"chunk_id": 1, "score": 0.5, "article_title": "Sleep",
                                    "heading": "", "url": "/corpus/sleep/", "text": "..."}])

    # The counsellor approves over the console API.
    api = client.request
    token = api.post("/api/v1/auth/token",
                     data={"username": "casey", "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.post(f"/api/v1/console/questions/{question.pk}/claim", headers=auth).ok
    approved = api.post(f"/api/v1/console/questions/{question.pk}/approve", headers=auth,
                        data={"text": FINAL})
    assert approved.ok, approved.text()
    review = Review.objects.get(question=question)

    sam = open_page("/")
    sign_in(sam, "sam")
    sam.goto("/console/audit/")
    sam.click(f"a:has-text('Question #{question.pk}')")
    sam.wait_for_url(re.compile(rf"/console/reviews/{review.pk}/audit/$"))
    diff = sam.locator("#word-diff")
    assert "Exams" in diff.inner_text()
    assert "can" in " ".join(diff.locator("del.diff-del").all_inner_texts())
    assert "calm" in " ".join(diff.locator("ins.diff-ins").all_inner_texts())
    # Struck through and underlined, not colour alone.
    assert diff.locator("del.diff-del").first.evaluate(
        "e => getComputedStyle(e).textDecorationLine") == "line-through"
    assert "struck through" in sam.inner_text("#diff-legend")
    assert "Sleep" in sam.inner_text("main")  # the sources

    sam.check("input[name=outcome][value=needs_correction]")
    sam.fill("#audit-correction", CORRECTION)
    sam.click("button:has-text('Record the outcome')")
    sam.locator(".messages", has_text="the correction is on the client's tracking page"
                ).wait_for()

    client.goto(track_url)
    assert "Exams keep many people awake" in client.inner_text(".reply >> nth=0")
    correction = client.locator("section.correction")
    assert "Correction from our service" in correction.inner_text()
    assert "keeping the same bedtime every night" in correction.inner_text()
    assert "Replied" in client.inner_text("main")
