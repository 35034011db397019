"""Pages and answers that can hold client text carry `Cache-Control: no-store`, so no
browser or proxy keeps a copy: every console page, the tracking page, the API and the
question form when it shows a refused question again."""

from __future__ import annotations

import pytest

from psyconsole.questions import roles
from tests.annotation_factories import approved_review
from tests.factories import make_drafted_question, make_user

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_every_console_page_is_no_store(client, counsellor):
    question = make_drafted_question()
    review = approved_review(counsellor)
    client.force_login(make_user("ada", roles.ADMIN))  # every page, exports too
    for url in ["/console/", "/console/queue/rows/", f"/console/questions/{question.pk}/",
                f"/console/questions/{review.question_id}/", "/console/annotations/assigned/",
                "/console/agreement/", "/console/audit/", "/console/exports/",
                "/console/retrain/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), url
    # A redirect after an action, too.
    response = client.post(f"/console/questions/{question.pk}/claim/")
    assert response.status_code == 302 and _no_store(response)


def test_the_tracking_page_and_the_api_are_no_store(client, staff_api):
    question = make_drafted_question()
    assert _no_store(client.get(f"/track/{question.tracking_code}/"))
    assert _no_store(client.get(f"/api/v1/questions/{question.tracking_code}"))
    assert _no_store(staff_api.get(f"/api/v1/console/questions/{question.pk}"))


def test_a_refused_question_shown_again_is_no_store(client):
    response = client.post("/", {"text": "x" * 6000})
    assert response.status_code == 400
    assert _no_store(response)


def test_public_pages_without_client_text_may_be_cached(client):
    assert not _no_store(client.get("/"))
