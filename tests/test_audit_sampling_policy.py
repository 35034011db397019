"""The audit's sampling policy: every high or imminent reply, every reply approved over a
guardrail finding, every reply to a question whose risk was overridden, and a random
share of the rest (PSY_AUDIT_SAMPLE_SHARE), the same replies every time; the audit page
lists sampled replies first, filters them, and shows each counsellor's share."""

from __future__ import annotations

import re
from typing import Any

import pytest

from psyconsole.questions import supervision_selectors as desk
from psyconsole.questions.models import Question
from psyconsole.questions.services import review as review_service
from tests.factories import make_approved_review, make_drafted_question

pytestmark = pytest.mark.django_db

UNSAFE = "Take 10 mg of diazepam at night."
OVERRIDE = "The client's GP asked us to confirm the dose in writing."


def _high_risk(counsellor: Any) -> Any:
    review = make_approved_review(counsellor, "A reply about a hard night.")
    # Test setup: the level the screener would have given (a high-risk approval needs the
    # crisis template, which is not what is tested here).
    Question.objects.filter(pk=review.question_id).update(risk_level="high")
    return review


def _risk_overridden(counsellor: Any) -> Any:
    question = review_service.do_claim(make_drafted_question(), counsellor)
    review_service.do_override_risk(question, counsellor, "low",
                                    "Exam worry only, nothing more than that.")
    return review_service.do_approve(question, counsellor, "A reply about exams.")


def _reasons() -> dict[int, list[str]]:
    return {r.pk: desk.sampling_reasons(r) for r in desk.audit_list("all")}


def test_the_policy_samples_every_risky_overridden_or_risk_overridden_reply(
        settings: Any, counsellor: Any) -> None:
    settings.AUDIT_SAMPLE_SHARE = 0.0
    plain = make_approved_review(counsellor)
    high = _high_risk(counsellor)
    overridden = make_approved_review(counsellor, UNSAFE, override_reason=OVERRIDE)
    risk = _risk_overridden(counsellor)
    assert _reasons() == {plain.pk: [], high.pk: ["high risk"],
                          overridden.pk: ["approved over a guardrail finding"],
                          risk.pk: ["risk overridden"]}
    assert {r.pk for r in desk.audit_list("sampled")} == {high.pk, overridden.pk, risk.pk}
    assert {r.pk for r in desk.audit_list("overrides")} == {overridden.pk, risk.pk}


def test_the_rules_are_configurable(settings: Any, counsellor: Any) -> None:
    settings.AUDIT_SAMPLE_SHARE = 0.0
    settings.AUDIT_SAMPLE_ALWAYS = ["guardrail_finding"]
    high = _high_risk(counsellor)
    overridden = make_approved_review(counsellor, UNSAFE, override_reason=OVERRIDE)
    assert _reasons() == {high.pk: [], overridden.pk: ["approved over a guardrail finding"]}


def test_the_random_share_is_the_same_every_time_and_near_the_setting() -> None:
    ids = range(1, 2001)
    chosen = [i for i in ids if desk.in_random_share(i, 0.2)]
    assert 360 <= len(chosen) <= 440
    assert chosen == [i for i in ids if desk.in_random_share(i, 0.2)]
    assert not any(desk.in_random_share(i, 0.0) for i in ids)
    assert all(desk.in_random_share(i, 1.0) for i in ids)
    # A larger share keeps every reply a smaller one chose.
    assert set(chosen) <= {i for i in ids if desk.in_random_share(i, 0.5)}


def test_the_database_draws_the_same_share_as_python(settings: Any, counsellor: Any) -> None:
    settings.AUDIT_SAMPLE_SHARE = 0.5
    reviews = [make_approved_review(counsellor, f"Reply number {n}.") for n in range(8)]
    expected = {r.pk for r in reviews if desk.in_random_share(r.pk)}
    assert {r.pk for r in desk.audit_list("sampled")} == expected
    assert all(reasons == (["random share"] if pk in expected else [])
               for pk, reasons in _reasons().items())
    assert [r.pk for r in desk.audit_list("sampled")] == \
        [r.pk for r in desk.audit_list("sampled")]  # stable between reads


def _row(page: str, username: str) -> dict[str, str]:
    row = re.search(rf'<tr data-counsellor="{username}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {username}"
    return dict(re.findall(r'<td class="([\w-]+)">([^<]*)</td>', row.group(1)))


def test_the_audit_page_lists_sampled_first_and_each_counsellors_share(
        client: Any, settings: Any, counsellor: Any, other_counsellor: Any,
        supervisor: Any) -> None:
    settings.AUDIT_SAMPLE_SHARE = 0.0
    plain = make_approved_review(counsellor)
    high = _high_risk(counsellor)
    robins = make_approved_review(other_counsellor)
    client.force_login(supervisor)
    page = client.get("/console/audit/").content.decode()
    assert page.index(f"Question #{high.question_id}") < page.index(
        f"Question #{plain.question_id}")
    assert "Sampled: high risk" in page
    assert "0% of the rest at random" in page
    assert _row(page, "casey") == {"approved": "2", "sampled": "1", "share": "50%",
                                   "audited": "0", "outcome-sound": "0",
                                   "outcome-needs_feedback": "0",
                                   "outcome-needs_correction": "0"}
    assert _row(page, "robin")["approved"] == "1"

    sampled = client.get("/console/audit/?show=sampled").content.decode()
    assert f"Question #{high.question_id}" in sampled
    assert f"Question #{plain.question_id}" not in sampled
    assert f"Question #{robins.question_id}" not in sampled

    client.post(f"/console/reviews/{high.pk}/audit/", {"outcome": "sound"})
    page = client.get("/console/audit/").content.decode()
    assert _row(page, "casey")["audited"] == "1"
    assert _row(page, "casey")["outcome-sound"] == "1"
    # Audited replies go below the ones still waiting.
    assert page.index(f"Question #{plain.question_id}") < page.index(
        f"Question #{high.question_id}")
