"""Repeated wrong passwords lock a username out from an address (django-axes), on every
way in: the console's login form, the admin's and the API token endpoint. HTTP Basic is
gone, so there is no path left that skips the lockout."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
TOKEN = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def _limit_three(settings):
    settings.AXES_FAILURE_LIMIT = 3


def _form_login(client: Client, path: str, password: str):
    return client.post(path, {"username": "casey", "password": password})


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_login_forms_lock_out_after_the_limit(counsellor, path):
    client = Client()
    for _ in range(2):
        assert _form_login(client, path, "wrong").status_code == 200  # the form, again
    # The failure that reaches the limit is answered with the lockout, and so is the
    # right password after it.
    assert _form_login(client, path, "wrong").status_code == 429
    locked = _form_login(client, path, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session


def test_the_token_endpoint_locks_out_after_the_limit(api, counsellor):
    for _ in range(2):
        assert api.post_json(TOKEN, {"username": "casey", "password": "wrong"}).status_code == 401
    assert api.post_json(TOKEN, {"username": "casey", "password": "wrong"}).status_code == 429
    locked = api.post_json(TOKEN, {"username": "casey", "password": PASSWORD})
    assert locked.status_code == 429
    assert "token" not in locked.json()
    assert "Too many failed sign-ins" in locked.json()["detail"]


def test_failures_on_one_path_count_on_the_others(api, counsellor):
    client = Client()
    for _ in range(3):
        _form_login(client, "/accounts/login/", "wrong")
    assert api.post_json(TOKEN, {"username": "casey", "password": PASSWORD}).status_code == 429


def test_the_lockout_is_per_username_and_address(api, counsellor, other_counsellor):
    for _ in range(3):
        api.post_json(TOKEN, {"username": "casey", "password": "wrong"})
    # Another counsellor at the same address, and casey from elsewhere, still get in.
    assert api.post_json(TOKEN, {"username": "robin", "password": PASSWORD}).status_code == 200
    elsewhere = api.post_json(TOKEN, {"username": "casey", "password": PASSWORD},
                              REMOTE_ADDR="10.0.0.7")
    assert elsewhere.status_code == 200


def test_the_lockout_ends_after_the_cool_off(api, counsellor, settings):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    for _ in range(3):
        api.post_json(TOKEN, {"username": "casey", "password": "wrong"})
    assert api.post_json(TOKEN, {"username": "casey", "password": PASSWORD}).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert api.post_json(TOKEN, {"username": "casey", "password": PASSWORD}).status_code == 200


def test_a_success_before_the_limit_resets_the_count(counsellor):
    client = Client()
    for _ in range(2):
        _form_login(client, "/accounts/login/", "wrong")
    assert _form_login(client, "/accounts/login/", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _form_login(client, "/accounts/login/", "wrong")
    assert _form_login(client, "/accounts/login/", PASSWORD).status_code == 302


def test_http_basic_is_not_a_way_around_the_lockout(api, counsellor):
    good = base64.b64encode(f"casey:{PASSWORD}".encode()).decode()
    assert api.get("/api/v1/console/queue", HTTP_AUTHORIZATION=f"Basic {good}").status_code == 401
