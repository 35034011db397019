"""The OpenAPI schema tells the truth about errors and enums: every operation declares
the 4xx answers the shared machinery gives (400 and 413 on any request, 415 and 422 on a
body), and risk levels are an enum wherever they appear."""

from __future__ import annotations

import pytest

from psyconsole.questions.models import RiskLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_declares_its_errors(spec):
    seen = 0
    for name, operation in _operations(spec):
        codes = set(operation["responses"])
        assert {"400", "413"} <= codes, name
        if "requestBody" in operation:
            assert {"415", "422"} <= codes, name
        if operation.get("parameters"):
            assert "422" in codes, name
        if operation.get("security"):
            assert {"401", "403"} <= codes, name
        seen += 1
    assert seen > 30


def test_every_error_answer_has_the_shape_the_api_sends(spec):
    errors = spec["components"]["schemas"]["ErrorOut"]
    assert errors["required"] == ["detail"]
    approve = spec["paths"]["/api/v1/console/questions/{question_id}/approve"]["post"]
    blocked = approve["responses"]["422"]["content"]["application/json"]["schema"]
    # A blocked reply (with findings) or a field error (detail a list).
    assert {r["$ref"].rsplit("/", 1)[-1] for r in blocked["anyOf"]} == \
        {"BlockedOut", "ErrorOut"}


def test_risk_level_is_an_enum_in_and_out(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["RiskLevel"]["enum"] == list(RiskLevel.values)
    ref = "#/components/schemas/RiskLevel"
    for name in ["RiskOverrideIn", "QueueItemOut", "QuestionDetailOut"]:
        assert schemas[name]["properties"]["risk_level"]["$ref"] == ref, name


def test_a_risk_level_outside_the_enum_is_refused_by_the_schema(staff_api, drafted_question):
    response = staff_api.post_json(f"/api/v1/console/questions/{drafted_question.pk}/risk",
                                   {"risk_level": "extreme", "reason": "Screener missed it."})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "risk_level"]
