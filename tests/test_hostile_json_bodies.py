"""Bodies that are JSON but not a JSON object (a list, a string, null, a number), or that
are nested too deeply or hold a number too long to read, are refused with a 4xx on every
endpoint that takes a body, and nothing is written: no empty annotation, no redraft."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions.api import api as ninja_api
from psyconsole.questions.models import Annotation, AuditEvent, Question, Review
from psyconsole.questions.services.review import do_claim
from tests.annotation_factories import approved_review
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _body_urls(question_id: int, review_id: int) -> list[str]:
    """Every operation that takes a JSON body, from the OpenAPI schema, so an endpoint
    added later is covered too."""
    urls = []
    for path, operations in ninja_api.get_openapi_schema()["paths"].items():
        for method, operation in operations.items():
            if method == "post" and "requestBody" in operation:
                urls.append(path.replace("{question_id}", str(question_id))
                            .replace("{review_id}", str(review_id)))
    return urls


@pytest.fixture
def signed_in(counsellor: Any, supervisor: Any) -> tuple[JsonClient, list[str], Any]:
    question = make_drafted_question()
    do_claim(question, counsellor)
    review = approved_review(counsellor)
    client = JsonClient()
    client.raise_request_exception = False
    client.force_login(counsellor)
    urls = _body_urls(question.pk, review.pk)
    assert any(u.endswith("/annotations") for u in urls)
    assert any(u.endswith("/redraft") for u in urls)
    return client, urls, question


def _written() -> list[int]:
    return [Question.objects.count(), Annotation.objects.count(), Review.objects.count(),
            AuditEvent.objects.count()]


@pytest.mark.parametrize("body", ["[]", '[{"overall": 4}]', '"shorter"', "null", "3",
                                  "true"])
def test_non_object_bodies_get_422_everywhere(signed_in, body):
    client, urls, question = signed_in
    before = _written()
    for url in urls:
        response = client.post_json(url, body)
        assert response.status_code == 422, (url, response.content)
        assert "must be a JSON object" in response.json()["detail"], url
    assert _written() == before
    question.refresh_from_db()
    assert question.status == "in_review"  # no redraft was queued


@pytest.mark.parametrize(("body", "fragment"), [
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"text": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"overall": ' + "9" * 5000 + "}", "number is too long"),
])
def test_bodies_json_cannot_read_get_400_everywhere(signed_in, body, fragment):
    client, urls, _ = signed_in
    before = _written()
    for url in urls:
        response = client.post_json(url, body)
        assert response.status_code == 400, (url, response.content)
        assert fragment in response.json()["detail"], url
    assert _written() == before
