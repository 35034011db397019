"""The client's tracking page: client words for the status (never the console's
"Screened"), a withdraw button that works (POST, CSRF), and corpus links in a reply that
point at the service's own article page, not the crawled site's address."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from psyconsole.questions.models import Draft, Review, Status
from psyconsole.questions.services.review import do_approve, do_claim
from retrieval.models import Article
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def _track(client: Any, question: Any) -> str:
    return client.get(f"/track/{question.tracking_code}/").content.decode()


def test_the_status_is_in_client_words(client: Any) -> None:
    question = make_drafted_question()
    page = _track(client, question)
    assert "Received — a counsellor will reply" in page
    for internal in ("Screened", "Drafted", "Drafting"):
        assert internal not in page


def test_a_client_withdraws_from_the_tracking_page() -> None:
    question = make_drafted_question()
    client = Client(enforce_csrf_checks=True)
    page = _track(client, question)
    # The confirmation is a data attribute read by js/confirm.js (the CSP has no inline JS).
    assert "Withdraw my question" in page and "data-confirm=" in page
    url = f"/track/{question.tracking_code}/withdraw/"
    assert client.post(url).status_code == 403  # no CSRF token
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Status.WITHDRAWN
    page = _track(client, question)
    assert "Withdrawn — you closed this question" in page
    assert "Withdraw my question" not in page
    assert client.get(url).status_code == 405


def test_an_unknown_code_cannot_be_withdrawn(client: Any) -> None:
    assert client.post("/track/nosuchcodeatallxyz/withdraw/").status_code == 404


def test_reply_links_go_to_the_public_article_page(client: Any, counsellor: Any) -> None:
    Article.objects.create(slug="exam-stress", title="Exam Stress", body="...",
                           url="http://127.0.0.1:8001/exam-stress/", content_hash="x")
    question = make_drafted_question()
    # The draft's source as the crawler stored it: the demo corpus site's own address.
    Draft.objects.filter(question=question).update(passages=[{
        "chunk_id": 1, "score": 0.5, "article_title": "Exam Stress", "heading": "",
        "url": "http://127.0.0.1:8001/exam-stress/", "text": "..."}])
    do_claim(question, counsellor)
    approved = ("Try a wind-down routine.\n\nSources:\n"
                "[1] Exam Stress (http://127.0.0.1:8001/exam-stress/)")
    do_approve(question, counsellor, approved)
    page = _track(client, question)
    assert "127.0.0.1:8001" not in page
    assert 'href="http://testserver/corpus/exam-stress/"' in page
    assert "Replied" in page
    # The approved text itself is unchanged: what the counsellor approved is on record.
    assert Review.objects.get().final_text == approved
    api = client.get(f"/api/v1/questions/{question.tracking_code}").json()
    assert "127.0.0.1:8001" not in api["reply"]["text"]
    assert "/corpus/exam-stress/" in api["reply"]["text"]
