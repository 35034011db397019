"""`human_only` is strictly a JSON boolean: "yes", 1, [] and the like are a 422 naming
the field, and nothing is stored. The choice decides whether a client's words reach the
model, so it is never guessed at."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from psyconsole.questions.models import AuditEvent, Question
from psyconsole.questions.services.intake import check_human_only, do_submit_question

pytestmark = pytest.mark.django_db

URL = "/api/v1/questions"


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, [], {}, None])
def test_the_api_refuses_a_human_only_that_is_not_a_boolean(api, value):
    response = api.post_json(URL, {"text": "I can't sleep.", "human_only": value})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "human_only"]
    assert "bool" in error["msg"]
    assert Question.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("value", [True, False])
def test_the_api_takes_true_or_false(api, value):
    response = api.post_json(URL, {"text": "I can't sleep.", "human_only": value})
    assert response.status_code == 201
    assert Question.objects.get().human_only is value


def test_left_out_it_is_false(api):
    assert api.post_json(URL, {"text": "I can't sleep."}).status_code == 201
    assert Question.objects.get().human_only is False


@pytest.mark.parametrize("value", ["on", 1, None])
def test_the_service_refuses_anything_but_a_boolean(value):
    with pytest.raises(ValidationError) as refused:
        check_human_only(value)
    assert "human_only must be true or false" in str(refused.value)
    with pytest.raises(ValidationError):
        do_submit_question("I can't sleep.", human_only=value)
    assert Question.objects.count() == 0
