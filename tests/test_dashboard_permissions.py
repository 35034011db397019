"""The dashboard is for supervisors and for staff who export: a counsellor without either
permission is refused (403) and not shown the link; a visitor is sent to sign in."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from psyconsole.questions import roles
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PAGE = "/console/dashboard/"
CHART = "/console/dashboard/queue-depth.svg"


def _signed_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def test_it_sends_a_visitor_to_sign_in(client: Any) -> None:
    for path in (PAGE, CHART):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_it_refuses_a_counsellor_and_hides_the_link(client: Any, counsellor: Any) -> None:
    _signed_in(client, counsellor)
    assert client.get(PAGE).status_code == 403
    assert client.get(CHART).status_code == 403
    assert PAGE not in client.get("/console/").content.decode()


@pytest.mark.parametrize("role", [roles.SUPERVISOR, roles.ADMIN])
def test_it_opens_for_supervisors_and_admins(client: Any, role: str) -> None:
    _signed_in(client, make_user("someone", role))
    response = client.get(PAGE)
    assert response.status_code == 200
    assert f'href="{PAGE}"' in client.get("/console/").content.decode()
    assert client.get(CHART).status_code == 200


@pytest.mark.parametrize("app_label", ["exports", "questions"])
def test_it_opens_for_a_counsellor_who_exports(client: Any, app_label: str) -> None:
    user = make_user("exporter", roles.COUNSELLOR)
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                     codename="export_annotations"))
    _signed_in(client, user)
    assert client.get(PAGE).status_code == 200
    assert client.get(CHART).status_code == 200
    assert f'href="{PAGE}"' in client.get("/console/").content.decode()
