"""Intake is rate limited per client (django-ratelimit, counted in Redis), on the form
and the API, and token issue per address; a throttled client still sees the crisis
resources, and nothing throttled is stored."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from psyconsole.questions.models import Question

pytestmark = pytest.mark.django_db

API = "/api/v1/questions"
CRISIS = "I want to end my life tonight."


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.INTAKE_RATE = "3/m"
    settings.INTAKE_IP_RATE = "5/m"
    settings.TOKEN_RATE = "4/m"


def test_the_api_answers_429_with_the_crisis_resources(api):
    for n in range(5):
        assert api.post_json(API, {"text": f"question {n}"}).status_code == 201
    throttled = api.post_json(API, {"text": CRISIS})
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["crisis_resources"] == settings.CRISIS_RESOURCES
    assert "wait a minute" in body["detail"]
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert Question.objects.count() == 5


def test_the_limit_is_per_address(api):
    for n in range(5):
        api.post_json(API, {"text": f"question {n}"})
    assert api.post_json(API, {"text": "mine"}, REMOTE_ADDR="10.1.2.3").status_code == 201


def test_the_form_shows_a_message_and_the_crisis_resources_and_keeps_the_text():
    client = Client()
    for n in range(3):
        assert client.post("/", {"text": f"question {n}"}).status_code == 302
    # The first question gave this browser a session: it is limited before its address.
    page = client.post("/", {"text": CRISIS})
    assert page.status_code == 429
    html = page.content.decode()
    assert "so this one was not sent" in html
    assert 'role="alert"' in html
    for resource in settings.CRISIS_RESOURCES:
        assert resource.replace("&", "&amp;") in html
    assert CRISIS in html  # still in the form, to send again
    assert Question.objects.count() == 3


def test_another_session_at_the_same_address_has_its_own_session_limit():
    first, second = Client(), Client()
    for n in range(3):
        first.post("/", {"text": f"question {n}"})
    assert first.post("/", {"text": "one more"}).status_code == 429
    assert second.post("/", {"text": "mine"}).status_code == 302


def test_token_issue_is_limited_per_address(api, counsellor):
    for _ in range(4):
        api.post_json("/api/v1/auth/token", {"username": "nobody", "password": "x"})
    throttled = api.post_json("/api/v1/auth/token", {
        "username": "casey", "password": "correct horse battery staple"})
    assert throttled.status_code == 429
    assert "token" not in throttled.json()


def test_intake_still_works_with_the_cache_down(api, settings):
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    for n in range(7):
        assert api.post_json(API, {"text": f"question {n}"}).status_code == 201


def test_the_schema_declares_the_429():
    from psyconsole.questions.api import api

    paths = api.get_openapi_schema()["paths"]
    assert "429" in {str(c) for c in paths["/api/v1/questions"]["post"]["responses"]}
    assert "429" in {str(c) for c in paths["/api/v1/auth/token"]["post"]["responses"]}
