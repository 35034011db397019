"""The review rubric: CounselBench's dimensions and Psy-LLM's, saved, revised with its
history kept, audited, constrained in the database, and filled in on the question page
with every control labelled and the keyboard shortcuts documented."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import IntegrityError, transaction

from psyconsole.questions import rubric
from psyconsole.questions.models import Adjudication, Annotation, AuditEvent
from tests.annotation_factories import approved_review

pytestmark = pytest.mark.django_db

FULL = {"overall": 4, "empathy": 5, "specificity": 3, "factual_consistency": 4,
        "toxicity_or_harm": 1, "medical_advice": False, "helpfulness": 4, "relevance": 5,
        "fluency": 5, "logic": 4, "tags": ["good-steps", "warm"], "note": "Kind and clear."}


def _url(review):
    return f"/api/v1/console/reviews/{review.pk}/annotations"


def test_the_whole_rubric_is_saved_through_the_api_and_audited(staff_api, counsellor):
    review = approved_review(counsellor)
    response = staff_api.post_json(_url(review), FULL)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in FULL} == FULL
    assert body["author"] == "Casey" and body["blind"] is False
    assert body["rubric_version"] == 2 and body["supersedes_id"] is None
    annotation = Annotation.objects.get()
    assert annotation.medical_advice is False and annotation.toxicity_or_harm == 1
    event = AuditEvent.objects.get(action="annotate")
    assert event.actor == counsellor and event.question_id == review.question_id
    assert event.data["annotation_id"] == annotation.pk


def test_the_legacy_safety_rating_is_stored_as_toxicity_or_harm(staff_api, counsellor):
    review = approved_review(counsellor)
    body = staff_api.post_json(_url(review), {"helpfulness": 4, "safety": 5}).json()
    assert body["toxicity_or_harm"] == 1 and body["helpfulness"] == 4
    # Both given and consistent (6 - 2 = 4) is fine; contradictory is refused.
    assert staff_api.post_json(_url(review), {"safety": 2, "toxicity_or_harm": 4}
                               ).status_code == 201
    refused = staff_api.post_json(_url(review), {"safety": 2, "toxicity_or_harm": 2})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "safety"]


@pytest.mark.parametrize("body", [{"overall": 6}, {"logic": 0}, {"overall": True},
                                  {"medical_advice": "yes"}, {"fluency": "3"},
                                  {"medical_advice": 1}])
def test_values_outside_the_scale_are_refused(staff_api, counsellor, body):
    review = approved_review(counsellor)
    assert staff_api.post_json(_url(review), body).status_code == 422
    assert not Annotation.objects.exists()


def test_a_revision_supersedes_the_annotation_and_keeps_its_history(staff_api, counsellor):
    review = approved_review(counsellor)
    first = staff_api.post_json(_url(review), FULL).json()
    second = staff_api.post_json(_url(review), {**FULL, "overall": 2, "note": "On reflection, "
                                                "too generic."}).json()
    assert second["supersedes_id"] == first["id"] and second["overall"] == 2
    old = Annotation.objects.get(pk=first["id"])
    assert old.superseded_at is not None and old.overall == 4  # kept as it was
    assert Annotation.objects.count() == 2
    current = staff_api.get(_url(review)).json()
    assert [a["id"] for a in current] == [second["id"]]
    revised = AuditEvent.objects.get(action="revise_annotation")
    assert revised.data["supersedes"] == first["id"]
    assert revised.data["changed"] == ["overall", "note"]
    assert "2" not in str(revised.data.get("overall", ""))  # which changed, not the values


def test_only_the_reviewer_an_assignee_or_a_supervisor_may_annotate(
        staff_api, counsellor, other_counsellor, supervisor):
    from tests.factories import JsonClient

    review = approved_review(counsellor)
    robin = JsonClient()
    robin.force_login(other_counsellor)
    assert robin.post_json(_url(review), {"overall": 3}).status_code == 403
    boss = JsonClient()
    boss.force_login(supervisor)
    assert boss.post_json(_url(review), {"overall": 3}).status_code == 201


def test_the_database_keeps_the_rubric_in_range(counsellor):
    review = approved_review(counsellor)
    for name in rubric.ORDINAL_NAMES:
        with pytest.raises(IntegrityError), transaction.atomic():
            Annotation.objects.create(review=review, author=counsellor, **{name: 6})
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(review=review, author=counsellor, blind=True)
    Annotation.objects.create(review=review, author=counsellor, overall=3)
    with pytest.raises(IntegrityError), transaction.atomic():  # two current ones
        Annotation.objects.create(review=review, author=counsellor, overall=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        Adjudication.objects.create(review=review, dimension="overall", value=7,
                                    by=counsellor, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Adjudication.objects.create(review=review, dimension="medical_advice", value=2,
                                    by=counsellor, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Adjudication.objects.create(review=review, dimension="overall", value=3,
                                    by=counsellor, reason="")


class _Controls(HTMLParser):
    """The rubric form's controls, labels, fieldsets and legends."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.wrapped: set[str] = set()
        self.fieldsets = 0
        self.legends = 0
        self.keys_text = ""
        self.in_keys = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "rubric":
            self.inside = 1
            self.form = a
            return
        if not self.inside:
            return
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden",):
            self.controls.append(a)
            if self.label_depth:
                self.wrapped.add(a.get("id", ""))
        if tag == "fieldset":
            self.fieldsets += 1
        if tag == "legend":
            self.legends += 1
        if a.get("id") == "rubric-keys":
            self.in_keys = True

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = 0
        if tag == "label" and self.label_depth:
            self.label_depth -= 1
        if tag == "p":
            self.in_keys = False

    def handle_data(self, data):
        if self.in_keys:
            self.keys_text += data


def _page(client, review):
    return client.get(f"/console/questions/{review.question_id}/").content.decode()


def test_the_page_offers_the_rubric_with_every_control_labelled(client, counsellor):
    review = approved_review(counsellor)
    client.force_login(counsellor)
    parser = _Controls()
    parser.feed(_page(client, review))
    assert parser.form["data-rubric"] == "" and parser.form["aria-describedby"] == "rubric-keys"
    assert parser.fieldsets == parser.legends == len(rubric.NAMES)
    names = {c["name"] for c in parser.controls}
    assert names == {*rubric.NAMES, "tags", "note"}
    for control in parser.controls:
        assert control["id"] in parser.label_for, control
    # 6 radios for each ordinal dimension (not rated, 1-5), 3 for medical advice.
    radios = [c for c in parser.controls if c.get("type") == "radio"]
    assert len(radios) == 6 * len(rubric.ORDINAL_NAMES) + 3
    for key in ("1", "5", "y", "n", "0", "Enter", "r"):
        assert key in parser.keys_text
    assert "toxicity or harm" in parser.keys_text


def test_a_saved_annotation_is_shown_on_the_page_and_can_be_revised(client, counsellor):
    review = approved_review(counsellor)
    client.force_login(counsellor)
    form = {name: "" for name in rubric.NAMES}
    form.update({"overall": "4", "empathy": "5", "medical_advice": "no",
                 "toxicity_or_harm": "1", "tags": "good-steps, warm",
                 "note": "Clear next steps."})
    response = client.post(f"/console/reviews/{review.pk}/annotate/", form)
    assert response.status_code == 302 and response["Location"].endswith("#annotations")
    saved = Annotation.objects.get()
    assert (saved.overall, saved.empathy, saved.medical_advice, saved.specificity) == \
        (4, 5, False, None)
    assert saved.tags == ["good-steps", "warm"]
    page = _page(client, review)
    assert "Saved annotations" in page and "Clear next steps." in page
    assert "good-steps, warm" in page and "Revise your annotation" in page
    # The form starts from the saved values.
    assert 'value="4" id="id_overall_4" checked' in page
    assert 'value="no" id="id_medical_advice_2" checked' in page
    client.post(f"/console/reviews/{review.pk}/annotate/", {**form, "overall": "3"})
    page = _page(client, review)
    assert "Your earlier versions (1)" in page and "overall quality 4" in page
    assert Annotation.objects.filter(superseded_at__isnull=True).get().overall == 3
    assert list(AuditEvent.objects.filter(action__in=["annotate", "revise_annotation"])
                .values_list("action", flat=True)) == ["annotate", "revise_annotation"]


def test_a_refused_annotation_is_explained_on_the_page(client, counsellor, other_counsellor):
    review = approved_review(counsellor)
    client.force_login(other_counsellor)
    response = client.post(f"/console/reviews/{review.pk}/annotate/", {"overall": "4"},
                           follow=True)
    assert "Only the reviewer" in response.content.decode()
    assert not Annotation.objects.exists()
    # The form is not offered to someone who may not use it.
    assert 'id="rubric"' not in _page(client, review)
