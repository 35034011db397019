"""Double annotation: supervisors send a share of approved replies, or every high-risk
one, to a second annotator, who sees no other annotation (page or API) until they have
saved their own; counsellors see what is assigned to them and cannot assign."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from psyconsole.questions.models import Annotation, AnnotationAssignment, AuditEvent
from psyconsole.questions.services.annotation import (
    do_annotate,
    do_assign_second_annotation,
)
from tests.annotation_factories import approved_review
from tests.factories import JsonClient

pytestmark = pytest.mark.django_db

SECRET_NOTE = "first-annotator-note-1234"


def _client(user):
    client = JsonClient()
    client.force_login(user)
    return client


@pytest.fixture
def first_annotated(counsellor):
    review = approved_review(counsellor)
    do_annotate(review, counsellor, overall=2, empathy=4, note=SECRET_NOTE)
    return review


def test_a_supervisor_sends_a_share_and_every_high_risk_reply(counsellor, other_counsellor,
                                                              supervisor):
    reviews = [approved_review(counsellor, f"Question {i} about sleep") for i in range(5)]
    reviews += [approved_review(counsellor, "A risky one", risk_level=level)
                for level in ("high", "imminent")]
    response = _client(supervisor).post_json("/api/v1/console/annotation-assignments", {
        "annotators": ["robin"], "share": 0.2, "risk_levels": ["high", "imminent"],
        "seed": 7})
    assert response.status_code == 201
    body = response.json()
    assert body["considered"] == 7 and body["skipped"] == []
    # Both risky ones, plus 20% of the other five (rounded up): one.
    assert sorted(a["reason"] for a in body["assigned"]) == ["risk", "risk", "share"]
    assert {a["review_id"] for a in body["assigned"] if a["reason"] == "risk"} == \
        {r.pk for r in reviews[5:]}
    assert {a["annotator"] for a in body["assigned"]} == {"Robin"}
    events = AuditEvent.objects.filter(action="assign_annotation")
    assert events.count() == 3 and {e.actor for e in events} == {supervisor}
    # Those already sent are not sent again.
    again = _client(supervisor).post_json("/api/v1/console/annotation-assignments", {
        "annotators": ["robin"], "share": 1.0})
    assert again.json()["considered"] == 4 and len(again.json()["assigned"]) == 4


def test_nobody_second_annotates_a_reply_they_reviewed_or_already_annotated(
        first_annotated, counsellor, supervisor):
    with pytest.raises(ValidationError, match="must not be the reviewer"):
        do_assign_second_annotation(first_annotated, supervisor, counsellor)
    do_annotate(first_annotated, supervisor, overall=3)
    with pytest.raises(ValidationError, match="already annotated"):
        do_assign_second_annotation(first_annotated, supervisor, supervisor)
    sample = _client(supervisor).post_json("/api/v1/console/annotation-assignments", {
        "annotators": ["casey"], "share": 1.0}).json()
    assert sample["assigned"] == [] and sample["skipped"] == [first_annotated.pk]


def test_the_second_annotator_is_blind_until_they_submit(first_annotated, other_counsellor,
                                                         supervisor):
    do_assign_second_annotation(first_annotated, supervisor, other_counsellor)
    robin = _client(other_counsellor)
    url = f"/api/v1/console/reviews/{first_annotated.pk}/annotations"
    assert robin.get(url).json() == []
    page = robin.get(f"/console/questions/{first_annotated.question_id}/").content.decode()
    assert SECRET_NOTE not in page and "blind second annotation" in page
    assert 'id="rubric"' in page  # an assignee may annotate though not the reviewer
    saved = robin.post_json(url, {"overall": 5, "empathy": 4}).json()
    assert saved["blind"] is True
    assignment = AnnotationAssignment.objects.get()
    assert assignment.completed_at is not None
    assert Annotation.objects.get(pk=saved["id"]).assignment == assignment
    seen = robin.get(url).json()
    assert [a["author"] for a in seen] == ["Casey", "Robin"]
    page = robin.get(f"/console/questions/{first_annotated.question_id}/").content.decode()
    assert SECRET_NOTE in page and "(blind second)" in page
    # A revision after seeing the first is not blind.
    assert robin.post_json(url, {"overall": 4}).json()["blind"] is False


def test_the_audit_trail_does_not_reveal_the_first_annotation(first_annotated,
                                                              other_counsellor, supervisor):
    do_annotate(first_annotated, first_annotated.reviewer, overall=3, note=SECRET_NOTE)
    trail = json.dumps(list(AuditEvent.objects.filter(
        action__in=["annotate", "revise_annotation"]).values("data", "reason")))
    assert SECRET_NOTE not in trail and '"overall": 3' not in trail


def test_a_counsellor_sees_the_annotations_assigned_to_them(first_annotated,
                                                           other_counsellor, supervisor):
    do_assign_second_annotation(first_annotated, supervisor, other_counsellor)
    robin = _client(other_counsellor)
    mine = robin.get("/api/v1/console/annotation-assignments").json()
    assert [(a["question_id"], a["assigned_by"]) for a in mine] == \
        [(first_annotated.question_id, "Sam")]
    page = robin.get("/console/annotations/assigned/").content.decode()
    assert f"Question #{first_annotated.question_id}" in page and "Assigned to me (1)" in page
    do_annotate(first_annotated, other_counsellor, overall=4)
    assert robin.get("/api/v1/console/annotation-assignments").json() == []
    assert len(robin.get("/api/v1/console/annotation-assignments?open_only=false").json()) == 1
    page = robin.get("/console/annotations/assigned/").content.decode()
    assert "Nothing to annotate." in page and "Assigned to me (1)" not in page


def test_counsellors_cannot_assign(first_annotated, counsellor, other_counsellor, client):
    casey = _client(counsellor)
    assert casey.post_json("/api/v1/console/annotation-assignments", {
        "annotators": ["robin"], "share": 1.0}).status_code == 403
    client.force_login(counsellor)
    assert client.post("/console/agreement/sample/", {
        "annotators": [str(other_counsellor.pk)], "share": "100"}).status_code == 403
    assert not AnnotationAssignment.objects.exists()


def test_sampling_through_the_page(first_annotated, other_counsellor, supervisor, client):
    client.force_login(supervisor)
    response = client.post("/console/agreement/sample/", {
        "annotators": [str(other_counsellor.pk)], "share": "100"}, follow=True)
    assert "1 of 1 approved replies sent for a blind second annotation" in \
        response.content.decode()
    assert AnnotationAssignment.objects.get().annotator == other_counsellor


@pytest.mark.parametrize("body", [{"annotators": ["nobody"], "share": 0.5},
                                  {"annotators": ["robin"], "share": 1.5},
                                  {"annotators": ["robin"], "risk_levels": ["severe"]},
                                  {"annotators": ["robin"]},
                                  {"annotators": [], "share": 0.5}])
def test_bad_samples_are_refused(first_annotated, other_counsellor, supervisor, body):
    response = _client(supervisor).post_json("/api/v1/console/annotation-assignments", body)
    assert response.status_code == 422
    assert not AnnotationAssignment.objects.exists()
