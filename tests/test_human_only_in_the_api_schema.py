"""The OpenAPI schema declares the client's choice of a reply without AI: a strict
boolean on the way in, and a field of every question the API returns."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schemas(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()["components"]["schemas"]


def test_the_question_in_declares_human_only_as_an_optional_boolean(schemas):
    field = schemas["QuestionIn"]["properties"]["human_only"]
    assert field["type"] == "boolean"
    assert field["default"] is False
    assert "without AI" in field["description"]
    assert "human_only" not in schemas["QuestionIn"].get("required", [])


@pytest.mark.parametrize("name", ["QuestionStatusOut", "QuestionDetailOut", "QueueItemOut"])
def test_every_question_out_has_human_only(schemas, name):
    assert schemas[name]["properties"]["human_only"]["type"] == "boolean"
    assert "human_only" in schemas[name]["required"]
