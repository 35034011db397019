"""The public question form, the tracking page and the corpus pages."""

from __future__ import annotations

import pytest

from psyconsole.questions.models import Question
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def test_the_form_needs_no_login_and_discloses_ai_use(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "AI model" in page and "professional" in page
    assert "116 123" in page  # crisis resources are on the form itself


def test_submitting_the_form_leads_to_the_tracking_page(client):
    response = client.post("/", {"text": "I get anxious on trains", "contact": ""})
    question = Question.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/track/{question.tracking_code}/"
    page = client.get(response["Location"]).content.decode()
    assert "I get anxious on trains" in page
    # Client words, not the console's "Screened" (tests/test_tracking_page.py).
    assert "Received — a counsellor will reply" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"text": ""}, "This field is required"),
    ({"text": "    "}, "must not be empty"),
    ({"text": "x" * 5001}, "at most 5000"),
    ({"text": "nul \x00"}, "Null characters are not allowed"),
])
def test_the_form_explains_bad_input_and_keeps_nothing(client, data, message):
    response = client.post("/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Question.objects.count() == 0


def test_the_form_rejects_bytes_that_are_not_utf8(client):
    response = client.post("/", b"text=caf%E9%FF", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "not valid UTF-8" in response.content.decode()
    assert Question.objects.count() == 0


def test_the_form_rejects_a_huge_body(client):
    response = client.post("/", {"text": "x" * 200_000})
    assert response.status_code == 400
    assert Question.objects.count() == 0


def test_the_form_keeps_what_was_typed_when_it_rejects_it(client):
    response = client.post("/", {"text": "x" * 5001, "contact": "kim@example.org"})
    assert "kim@example.org" in response.content.decode()


def test_hostile_text_is_escaped_on_every_page(client, counsellor):
    client.post("/", {"text": "<script>alert(1)</script> help"})
    question = Question.objects.get()
    tracking = client.get(f"/track/{question.tracking_code}/").content.decode()
    assert "<script>alert(1)</script>" not in tracking
    assert "&lt;script&gt;" in tracking
    client.force_login(counsellor)
    for url in ("/console/", f"/console/questions/{question.pk}/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page


def test_the_reply_appears_only_after_approval(client, counsellor):
    from psyconsole.questions.services import review

    question = make_drafted_question()
    page = client.get(f"/track/{question.tracking_code}/").content.decode()
    assert "A draft reply" not in page
    review.do_claim(question, counsellor)
    review.do_approve(question, counsellor, "Here is our reply.")
    page = client.get(f"/track/{question.tracking_code}/").content.decode()
    assert "Here is our reply." in page
    assert "reviewed, edited and approved by a professional" in page


def test_unknown_tracking_codes_are_404(client):
    assert client.get("/track/not-a-real-code-at-all/").status_code == 404


def test_corpus_articles_are_served_with_html_escaped(client):
    from retrieval.models import Article

    Article.objects.create(slug="a", title="Breathing", body="## Step\n\n<b>x</b> breathe",
                           content_hash="0")
    page = client.get("/corpus/a/").content.decode()
    assert "<h2>Step</h2>" in page
    assert "<b>x</b>" not in page


@pytest.mark.parametrize("asset", ["css/console.css", "js/console.js", "vendor/htmx.min.js"])
def test_every_page_asset_is_found_by_collectstatic(asset):
    from django.contrib.staticfiles import finders

    assert finders.find(asset) is not None
