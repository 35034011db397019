"""A counsellor holds at most MAX_CLAIMS_PER_COUNSELLOR live claims at once: claim and
take-next refuse the next one, through the service, the API and the pages, and two
claims racing for the same counsellor cannot both slip under the cap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from django.db import connection

from psyconsole.questions.models import AuditEvent, Question, Status
from psyconsole.questions.services import review
from psyconsole.questions.states import TransitionError
from tests.factories import make_drafted_question, make_user

Q = "/api/v1/console/questions"


def _drafted(count: int) -> list[Question]:
    return [make_drafted_question(f"I can't sleep before exams {i}") for i in range(count)]


def _held(user: Any) -> int:
    return Question.objects.filter(status=Status.IN_REVIEW, claimed_by=user).count()


@pytest.mark.django_db
def test_the_default_cap_is_three(counsellor):
    questions = _drafted(4)
    for question in questions[:3]:
        review.do_claim(question, counsellor)
    with pytest.raises(review.ClaimLimitReached, match="3 claims"):
        review.do_claim(questions[3], counsellor)
    questions[3].refresh_from_db()
    assert questions[3].status == Status.DRAFTED and questions[3].claimed_by is None
    assert not questions[3].audit_events.filter(action="claim").exists()


@pytest.mark.django_db
def test_the_api_refuses_the_next_claim_with_409(staff_api, settings):
    settings.MAX_CLAIMS_PER_COUNSELLOR = 2
    first, second, third = _drafted(3)
    assert staff_api.post(f"{Q}/{first.pk}/claim").status_code == 200
    assert staff_api.post(f"{Q}/{second.pk}/claim").status_code == 200
    refused = staff_api.post(f"{Q}/{third.pk}/claim")
    assert refused.status_code == 409
    assert "2 claims" in refused.json()["detail"]
    # Write-without-draft claims too, so it is held to the same cap.
    assert staff_api.post(f"{Q}/{third.pk}/write-without-draft").status_code == 409
    # Renewing a claim already held is not a new claim.
    assert staff_api.post(f"{Q}/{first.pk}/claim").status_code == 200
    # Once one is given back, the next claim goes through.
    assert staff_api.post(f"{Q}/{first.pk}/release").status_code == 200
    assert staff_api.post(f"{Q}/{third.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_take_next_refuses_at_the_cap_through_the_api(staff_api, counsellor, settings):
    settings.MAX_CLAIMS_PER_COUNSELLOR = 1
    _drafted(2)
    assert staff_api.post("/api/v1/console/take-next").status_code == 200
    refused = staff_api.post("/api/v1/console/take-next")
    assert refused.status_code == 409
    assert "1 claim" in refused.json()["detail"]
    assert _held(counsellor) == 1
    assert Question.objects.filter(status=Status.DRAFTED).count() == 1


@pytest.mark.django_db
def test_a_lapsed_claim_does_not_count(counsellor, settings):
    settings.MAX_CLAIMS_PER_COUNSELLOR = 1
    settings.CLAIM_LEASE_SECONDS = -1  # every claim has lapsed as soon as it is made
    first, second = _drafted(2)
    review.do_claim(first, counsellor)
    assert review.do_claim(second, counsellor).claimed_by == counsellor


@pytest.mark.django_db
def test_the_pages_explain_the_cap(client, counsellor, settings):
    settings.MAX_CLAIMS_PER_COUNSELLOR = 1
    first, second = _drafted(2)
    client.force_login(counsellor)
    client.post(f"/console/questions/{first.pk}/claim/")
    page = client.post(f"/console/questions/{second.pk}/claim/", follow=True)
    assert "1 claim" in page.content.decode()
    second.refresh_from_db()
    assert second.claimed_by is None
    taken = client.post("/console/take-next/", follow=True)
    assert taken.redirect_chain[-1][0] == "/console/"
    assert "1 claim" in taken.content.decode()
    assert _held(counsellor) == 1


@pytest.mark.django_db(transaction=True)
def test_racing_claims_by_one_counsellor_never_exceed_the_cap(settings):
    """Claims and take-next calls by one counsellor at the same moment: the per-user row
    lock makes them count one after another, so exactly the cap's worth win (and the
    lock order, user before question, gives no deadlock)."""
    settings.MAX_CLAIMS_PER_COUNSELLOR = 3
    questions = _drafted(8)
    user = make_user("racer", "counsellor")
    barrier = Barrier(8)

    def claim(i: int) -> None:
        try:
            barrier.wait()
            if i % 2:
                review.do_take_next(user)
            else:  # possibly one take-next already gave them: then it is a renewal
                review.do_claim(Question.objects.get(pk=questions[i].pk), user)
        except TransitionError:  # the cap; anything else (a deadlock) fails the test
            pass
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(claim, range(8)))
    assert _held(user) == 3
    new_claims = AuditEvent.objects.filter(action="claim").exclude(from_state=Status.IN_REVIEW)
    assert new_claims.count() == 3
