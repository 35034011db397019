"""Lone surrogates ("\\ud800" in JSON; in a form, the bytes of one, which Django decodes
to U+FFFD) are refused with a 4xx naming the field, on every field of every endpoint and
page, and nothing is written."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest

from psyconsole.exports.models import Export
from psyconsole.questions.api import api as ninja_api
from psyconsole.questions.models import (
    Adjudication,
    AnnotationAssignment,
    ApiToken,
    AuditEvent,
    Question,
    ReplyEdit,
    Review,
    ScreeningLabel,
)
from psyconsole.questions.models import Annotation as AnnotationRow
from psyconsole.questions.services.review import do_claim
from tests.annotation_factories import approved_review
from tests.factories import JsonClient, make_drafted_question

pytestmark = pytest.mark.django_db

S = "\ud800"
# What a browser or script sends for a lone surrogate in a form: its WTF-8 bytes.
FORM_S = "%ED%A0%80"
MODELS = [Question, ReplyEdit, Review, AnnotationRow, AnnotationAssignment, Adjudication,
          AuditEvent, ApiToken, ScreeningLabel, Export]


def _counts() -> list[int]:
    return [model.objects.count() for model in MODELS]


def _client(user: Any) -> JsonClient:
    client = JsonClient()
    client.raise_request_exception = False  # a 500 is a failed assertion, not an error
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Users are made for every case; a slow password hash would be most of the time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(counsellor: Any, supervisor: Any) -> SimpleNamespace:
    question = make_drafted_question("I can't sleep before exams.")
    do_claim(question, counsellor)
    review = approved_review(counsellor)
    return SimpleNamespace(q=question.pk, r=review.pk, counsellor=counsellor,
                           supervisor=supervisor)


Q = "/api/v1/console/questions/{q}"
R = "/api/v1/console/reviews/{r}"
API_FIELDS = [
    (None, "/api/v1/questions", {"text": S}, ["text"]),
    (None, "/api/v1/questions", {"text": "Hello", "contact": f"me{S}"}, ["contact"]),
    (None, "/api/v1/auth/token", {"username": "casey", "password": S}, ["password"]),
    (None, "/api/v1/auth/token", {"username": S, "password": "x"}, ["username"]),
    ("counsellor", f"{Q}/edits", {"text": f"A reply {S}"}, ["text"]),
    ("counsellor", f"{Q}/approve", {"text": f"A reply {S}"}, ["text"]),
    ("counsellor", f"{Q}/approve", {"text": "A reply.",
                                    "override_reason": f"A long enough reason {S}"},
     ["override_reason"]),
    ("counsellor", f"{Q}/reject", {"reason": S}, ["reason"]),
    ("counsellor", f"{Q}/escalate", {"reason": S}, ["reason"]),
    ("counsellor", f"{Q}/risk", {"risk_level": "moderate", "reason": S}, ["reason"]),
    ("counsellor", f"{Q}/risk", {"risk_level": S, "reason": "Screener missed it."},
     ["risk_level"]),
    ("counsellor", f"{Q}/redraft", {"instruction": S}, ["instruction"]),
    ("counsellor", f"{R}/annotations", {"overall": 4, "note": S}, ["note"]),
    ("counsellor", f"{R}/annotations", {"tags": ["warm", S]}, ["tags", 1]),
    ("supervisor", f"{R}/audit", {"note": S}, ["note"]),
    ("supervisor", f"{R}/adjudications", {"dimension": "overall", "value": 3,
                                          "reason": S}, ["reason"]),
    ("supervisor", f"{R}/adjudications", {"dimension": S, "value": 3, "reason": "Why."},
     ["dimension"]),
    ("supervisor", f"{Q}/release-claim", {"reason": S}, ["reason"]),
    ("supervisor", f"{Q}/reassign", {"to": S, "reason": "Cover."}, ["to"]),
    ("supervisor", "/api/v1/console/annotation-assignments",
     {"annotators": [S], "share": 1.0}, ["annotators", 0]),
    ("supervisor", "/api/v1/console/exports", {"formats": ["sft", S]}, ["formats", 1]),
    ("supervisor", "/api/v1/console/exports", {"min_ratings": {S: 4}}, ["min_ratings"]),
]


@pytest.mark.parametrize(("who", "path", "body", "loc"), API_FIELDS,
                         ids=[f"{p.rsplit('/', 1)[-1]}:{'.'.join(map(str, loc))}"
                              for _, p, _, loc in API_FIELDS])
def test_every_api_field_refuses_a_lone_surrogate(world, who, path, body, loc):
    client = _client(getattr(world, who) if who else None)
    before = _counts()
    response = client.post_json(path.format(q=world.q, r=world.r), json.dumps(body))
    assert response.status_code == 422, response.content
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", *loc]
    assert "lone surrogate" in error["msg"] and str(loc[0]) in error["msg"]
    assert _counts() == before
    assert Question.objects.get(pk=world.q).status == "in_review"


def _string_fields(schema: dict[str, Any], components: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        return [name for part in schema["anyOf"] for name in _string_fields(part, components)]
    return list(schema.get("properties", {}))


def test_no_field_in_the_openapi_schema_takes_a_lone_surrogate(world):
    """Every property of every request body, including endpoints added later."""
    spec = ninja_api.get_openapi_schema()
    components = spec["components"]["schemas"]
    client = _client(world.supervisor)
    checked = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            url = (path.replace("{question_id}", str(world.q))
                   .replace("{review_id}", str(world.r)))
            for name in _string_fields(content["application/json"]["schema"], components):
                response = client.post_json(url, json.dumps({name: S}))
                assert response.status_code == 422, (url, name, response.content)
                assert response.json()["detail"][0]["loc"] == ["body", name], (url, name)
                checked += 1
    assert checked > 30


# --- the pages -------------------------------------------------------------------------

def _form_post(client: Any, url: str, data: dict[str, str]) -> Any:
    body = urlencode(data).replace("BAD", FORM_S)
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("field", ["text", "contact"])
def test_the_question_form_refuses_them_with_a_form_error(client, field):
    data = {"text": "I can't sleep.", "contact": ""}
    data[field] = "BAD"
    response = _form_post(client, "/", data)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.content.decode()
    assert Question.objects.count() == 0


C = "/console/questions/{q}"
PAGE_FIELDS = [
    ("counsellor", f"{C}/save/", {"text": "My edited reply BAD"}, "My edited reply"),
    ("counsellor", f"{C}/approve/", {"text": "My final reply BAD"}, "My final reply"),
    ("counsellor", f"{C}/approve/", {"text": "My final reply.",
                                     "override_reason": "A long enough reason BAD"},
     "My final reply."),
    ("counsellor", f"{C}/reject/", {"reason": "Not for us BAD"}, "Not for us"),
    ("counsellor", f"{C}/escalate/", {"reason": "Needs a supervisor BAD"},
     "Needs a supervisor"),
    ("counsellor", f"{C}/risk/", {"risk_level": "moderate", "reason": "BAD"}, None),
    ("counsellor", f"{C}/redraft/", {"instruction": "BAD", "candidates": "1"}, None),
    ("counsellor", "/console/reviews/{r}/annotate/", {"overall": "4", "note": "Kind BAD"},
     "Kind"),
    ("counsellor", "/console/reviews/{r}/annotate/", {"overall": "4", "tags": "warm, BAD"},
     "warm"),
    ("supervisor", "/console/reviews/{r}/audit/", {"note": "BAD"}, None),
    ("supervisor", "/console/reviews/{r}/adjudicate/",
     {"dimension": "overall", "value": "3", "reason": "BAD"}, None),
    ("supervisor", f"{C}/release-claim/", {"reason": "BAD"}, None),
]


@pytest.mark.parametrize(("who", "path", "data", "kept"), PAGE_FIELDS,
                         ids=[f"{p.strip('/').rsplit('/', 1)[-1]}:"
                              f"{next(k for k, v in d.items() if 'BAD' in v)}"
                              for _, p, d, _ in PAGE_FIELDS])
def test_every_console_form_refuses_them_on_the_page_and_keeps_the_text(world, who, path,
                                                                        data, kept):
    client = _client(getattr(world, who))
    before = _counts()
    response = _form_post(client, path.format(q=world.q, r=world.r), data)
    assert response.status_code == 422, response.status_code
    page = response.content.decode()
    assert "not valid UTF-8" in page
    if kept:
        assert kept in page  # what was typed is shown again, not lost
    assert _counts() == before
    assert Question.objects.get(pk=world.q).status == "in_review"
