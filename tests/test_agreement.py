"""Agreement: Krippendorff's alpha per dimension from the `krippendorff` package (checked
on hand-made data and on Krippendorff's own worked example), the pairs gathered from the
database, disagreements listed for adjudication, the adjudicated value exported, and the
supervisor-only page."""

from __future__ import annotations

import math

import pytest

from psyconsole.questions import rubric, selectors
from psyconsole.questions.agreement import agreement, alpha_for
from psyconsole.questions.models import Adjudication, AuditEvent
from psyconsole.questions.services.annotation import do_adjudicate, do_annotate
from tests.annotation_factories import approved_review, doubly_annotated
from tests.factories import JsonClient

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example
# with missing data: 4 observers (rows) x 12 units (columns). Published: nominal
# alpha = 0.743, ordinal 0.815, interval 0.849, over n = 40 pairable values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def test_krippendorffs_worked_example_gives_the_published_alphas():
    ordinal = alpha_for("overall", KRIPPENDORFF_2011)
    assert ordinal.level == "ordinal" and round(ordinal.alpha, 3) == 0.815
    assert ordinal.n_items == 11  # the last unit has a single value: not pairable
    assert ordinal.n_values == 40  # the paper's n: 40 pairable values
    nominal = alpha_for("overall", KRIPPENDORFF_2011, level="nominal")
    assert round(nominal.alpha, 3) == 0.743


def test_perfect_agreement_is_one_and_reversed_ratings_are_below_zero():
    results = agreement({
        "empathy": [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]],
        "medical_advice": [[True, False, True, N], [True, False, True, False]],
        "logic": [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]],
    })
    assert results["empathy"].alpha == 1.0 and results["empathy"].n_items == 5
    assert results["medical_advice"].alpha == 1.0
    assert results["medical_advice"].level == "nominal"
    assert results["medical_advice"].n_items == 3
    assert results["logic"].alpha < 0


def test_alpha_is_undefined_without_pairs_or_without_variation():
    none = alpha_for("overall", [[1, N], [N, 2]])
    assert none.alpha is None and none.n_items == 0 and "two values" in none.note
    same = alpha_for("overall", [[3, 3], [3, 3]])
    assert same.alpha is None and same.n_items == 2 and "no variation" in same.note
    empty = alpha_for("overall", [])
    assert empty.alpha is None and empty.n_items == 0


def _client(user):
    client = JsonClient()
    client.force_login(user)
    return client


@pytest.fixture
def three_items(db, counsellor, other_counsellor, supervisor):
    """Three doubly-annotated replies: casey first, robin blind second."""
    return [
        doubly_annotated(counsellor, other_counsellor, supervisor,
                         {"overall": 4, "empathy": 5, "medical_advice": False},
                         {"overall": 4, "empathy": 4, "medical_advice": False}),
        doubly_annotated(counsellor, other_counsellor, supervisor,
                         {"overall": 2, "empathy": 3, "medical_advice": False},
                         {"overall": 5, "empathy": 3, "medical_advice": True}),
        doubly_annotated(counsellor, other_counsellor, supervisor,
                         {"overall": 3, "empathy": 2, "fluency": 4},
                         {"overall": 3, "empathy": 2, "medical_advice": True}),
    ]


def test_the_pairs_come_from_the_database(three_items):
    data = selectors.reliability_data()
    assert data["overall"] == [[4, 2, 3], [4, 5, 3]]
    assert data["medical_advice"] == [[False, False, None], [False, True, True]]
    assert data["fluency"] == [[None, None, 4], [None, None, None]]
    summary = selectors.agreement_summary()
    assert summary["n_doubly_annotated"] == 3
    assert "krippendorff" in summary["method"]
    overall = summary["dimensions"]["overall"]
    assert overall["n_items"] == 3 and overall["level"] == "ordinal"
    assert math.isclose(overall["alpha"], round(alpha_for("overall", data["overall"]).alpha,
                                                4))
    assert summary["dimensions"]["empathy"]["alpha"] > 0.5
    assert summary["dimensions"]["fluency"]["alpha"] is None
    assert summary["dimensions"]["fluency"]["n_items"] == 0
    assert set(summary["dimensions"]) == set(rubric.NAMES)


def test_a_revision_after_the_blind_annotation_does_not_count_as_agreement(
        three_items, counsellor):
    do_annotate(three_items[1], counsellor, overall=5, empathy=3, medical_advice=True)
    assert selectors.reliability_data()["overall"][0] == [4, 2, 3]
    assert [d.dimension for d in selectors.disagreements()] == ["overall", "medical_advice"]


def test_disagreements_are_listed_adjudicated_audited_and_exported(three_items, supervisor):
    listed = selectors.disagreements(open_only=True)
    # Overall 2 vs 5 (more than one point); empathy 5 vs 4 is within one point; medical
    # advice no vs yes. The third item's medical advice has only one value.
    assert [(d.review.pk, d.dimension) for d in listed] == [
        (three_items[1].pk, "overall"), (three_items[1].pk, "medical_advice")]
    assert listed[0].values == [("Casey", 2), ("Robin", 5)]
    summary = selectors.agreement_summary()["dimensions"]
    assert summary["overall"]["n_disagreements_open"] == 1
    assert summary["empathy"]["n_disagreements"] == 0

    # Before adjudication the disputed dimensions are withheld from the export.
    exported = selectors.rubric_for_export(three_items[1])
    assert exported["overall"] is None and exported["medical_advice"] is None
    assert exported["empathy"] == 3

    boss = _client(supervisor)
    url = f"/api/v1/console/reviews/{three_items[1].pk}/adjudications"
    response = boss.post_json(url, {"dimension": "overall", "value": 4,
                                    "reason": "Warm but misses the sleep question."})
    assert response.status_code == 201 and response.json()["by"] == "Sam"
    assert boss.post_json(url, {"dimension": "medical_advice", "value": True,
                                "reason": "It names a medication."}).json()["value"] is True
    event = AuditEvent.objects.filter(action="adjudicate").first()
    assert event.actor == supervisor and event.data["dimension"] == "overall"
    assert event.question_id == three_items[1].question_id

    assert selectors.disagreements(open_only=True) == []
    assert len(boss.get("/api/v1/console/disagreements?open_only=false").json()) == 2
    exported = selectors.rubric_for_export(three_items[1])
    assert exported["overall"] == 4 and exported["medical_advice"] is True
    summary = selectors.agreement_summary()["dimensions"]
    assert (summary["overall"]["n_disagreements_open"], summary["overall"]["n_adjudicated"]) \
        == (0, 1)
    # A later ruling replaces the earlier one; both are kept.
    do_adjudicate(three_items[1], supervisor, "overall", 3, "On a second reading.")
    assert selectors.rubric_for_export(three_items[1])["overall"] == 3
    assert Adjudication.objects.filter(dimension="overall").count() == 2


def test_what_is_exported_without_a_dispute(three_items, counsellor):
    first = selectors.rubric_for_export(three_items[0])
    # The first annotator's value, where the two agree within a point.
    assert (first["overall"], first["empathy"], first["medical_advice"]) == (4, 5, False)
    assert first["logic"] is None  # nobody rated it
    third = selectors.rubric_for_export(three_items[2])
    # The first annotator left medical advice unrated: the second's value is used.
    assert third["medical_advice"] is True and third["fluency"] == 4
    # Without a second annotation, the reviewer's latest annotation is exported.
    single = approved_review(counsellor)
    do_annotate(single, counsellor, overall=2, medical_advice=True)
    do_annotate(single, counsellor, overall=3, medical_advice=True)
    exported = selectors.rubric_for_export(single)
    assert set(exported) == set(rubric.NAMES)
    assert (exported["overall"], exported["medical_advice"]) == (3, True)


def test_rubric_for_export_reads_a_prefetch_without_more_queries(three_items,
                                                                 django_assert_num_queries):
    from psyconsole.questions.models import Review

    reviews = list(Review.objects.filter(pk__in=[r.pk for r in three_items])
                   .prefetch_related("annotations", "annotation_assignments",
                                     "adjudications"))
    with django_assert_num_queries(0):
        for review in reviews:
            selectors.rubric_for_export(review)


def test_counsellors_cannot_adjudicate_or_read_agreement(three_items, counsellor, client):
    casey = _client(counsellor)
    url = f"/api/v1/console/reviews/{three_items[1].pk}/adjudications"
    assert casey.post_json(url, {"dimension": "overall", "value": 4,
                                 "reason": "Mine is right."}).status_code == 403
    assert casey.get("/api/v1/console/agreement").status_code == 403
    assert casey.get("/api/v1/console/disagreements").status_code == 403
    client.force_login(counsellor)
    assert client.get("/console/agreement/").status_code == 403
    assert client.post(f"/console/reviews/{three_items[1].pk}/adjudicate/", {
        "dimension": "overall", "value": "4", "reason": "x"}).status_code == 403
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize("body", [{"dimension": "overall", "value": 9, "reason": "x"},
                                  {"dimension": "overall", "value": True, "reason": "x"},
                                  {"dimension": "medical_advice", "value": 1, "reason": "x"},
                                  {"dimension": "kindness", "value": 3, "reason": "x"},
                                  {"dimension": "overall", "value": 3, "reason": ""}])
def test_bad_adjudications_are_refused(three_items, supervisor, body):
    url = f"/api/v1/console/reviews/{three_items[1].pk}/adjudications"
    assert _client(supervisor).post_json(url, body).status_code == 422
    assert not Adjudication.objects.exists()


def test_only_doubly_annotated_replies_are_adjudicated(db, counsellor, supervisor):
    single = approved_review(counsellor)
    do_annotate(single, counsellor, overall=2)
    response = _client(supervisor).post_json(
        f"/api/v1/console/reviews/{single.pk}/adjudications",
        {"dimension": "overall", "value": 4, "reason": "Too low."})
    assert response.status_code == 422


def test_the_staff_page_shows_alpha_and_adjudicates(three_items, supervisor, client):
    client.force_login(supervisor)
    page = client.get("/console/agreement/").content.decode()
    assert "Krippendorff" in page and "3 doubly-annotated replies" in page
    assert 'data-dimension="overall"' in page and "Disagreements to adjudicate (2)" in page
    assert "Casey: <b>2</b> · Robin: <b>5</b>" in page
    assert 'href="/console/agreement/"' in client.get("/console/").content.decode()
    response = client.post(f"/console/reviews/{three_items[1].pk}/adjudicate/", {
        "dimension": "medical_advice", "value": "yes", "reason": "Names a medication."},
        follow=True)
    assert "Adjudicated medical_advice" in response.content.decode()
    assert Adjudication.objects.get().value == 1
    assert "Disagreements to adjudicate (1)" in client.get("/console/agreement/").content.decode()
    api = _client(supervisor).get("/api/v1/console/agreement").json()
    assert api["dimensions"]["medical_advice"]["n_adjudicated"] == 1
