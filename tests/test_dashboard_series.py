"""The dashboard's series, computed from questions, reviews and annotations made through
the services: first responses against each level's SLA, the queue's depth over time,
drafts used as they were or rewritten per model version, rubric means per week, and
agreement only when double annotations exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from psyconsole.questions import dashboard, states
from psyconsole.questions.models import Question
from psyconsole.questions.services.annotation import do_annotate
from tests.annotation_factories import approved_review, doubly_annotated
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db


def _set_times(question: Question, **times: Any) -> None:
    Question.objects.filter(pk=question.pk).update(**times)


def test_a_first_response_within_the_sla_counts_as_within(settings: Any) -> None:
    settings.TRIAGE_SLA_MINUTES = {**settings.TRIAGE_SLA_MINUTES, "imminent": 5}
    now = timezone.now()
    quick, slow, waiting = (make_drafted_question(f"Question {i}") for i in range(3))
    _set_times(quick, risk_level="imminent", created_at=now - timedelta(minutes=10),
               first_claimed_at=now - timedelta(minutes=7))  # answered in 3 minutes
    _set_times(slow, risk_level="imminent", created_at=now - timedelta(minutes=30),
               first_claimed_at=now - timedelta(minutes=22))  # in 8 minutes
    _set_times(waiting, risk_level="high", created_at=now - timedelta(minutes=20))

    levels = {row.level: row for row in dashboard.first_response(dashboard.window(7, now))}

    imminent = levels["imminent"]
    assert imminent.sla_minutes == 5 and imminent.answered == 2
    assert imminent.within_sla == 1 and imminent.within_sla_share == 0.5
    assert imminent.median == pytest.approx(5.5)
    assert imminent.p90 == pytest.approx(7.5)
    assert levels["high"].answered == 0
    assert levels["high"].waiting == 1 and levels["high"].waiting_past_sla == 1  # 15 min
    assert [row.level for row in levels.values()] == ["imminent", "high", "moderate",
                                                      "low", "none"]


def test_the_queue_depth_follows_arrivals_and_closing_transitions(counsellor: Any) -> None:
    # Audit events cannot be moved back in time (the table is append-only), so the
    # questions' arrivals are moved back instead, and the window ends an hour from now.
    now = timezone.now()
    closed = approved_review(counsellor, "First question").question  # closed just now
    _set_times(closed, created_at=now - timedelta(days=2))
    still_open = make_drafted_question("Second question")
    _set_times(still_open, created_at=now - timedelta(days=1))
    before_the_window = make_drafted_question("Open since long ago")
    _set_times(before_the_window, created_at=now - timedelta(days=20))
    withdrawn = make_drafted_question("Withdrawn at once")
    states.transition(withdrawn, "withdrawn", states.CLIENT)

    depth = dashboard.queue_depth(dashboard.window(7, now + timedelta(hours=1)))

    assert depth.open_now == 2
    assert depth.peak == 3  # all three open between the second arrival and the approval
    assert depth.peak_at == now - timedelta(days=1)  # when the second one arrived
    assert depth.arrived == 3 and depth.closed == 2  # the withdrawn one came and went
    assert depth.samples[0][1] == 1  # a week ago: only the one from long ago was open
    assert depth.samples[-1][1] == 2
    assert sum(day["arrived"] for day in depth.days) == 3
    assert sum(day["closed"] for day in depth.days) == 2
    assert max(day["peak"] for day in depth.days) == 3


def test_drafts_are_sorted_into_used_edited_and_rewritten_per_version(counsellor: Any,
                                                                    settings: Any) -> None:
    from psyconsole.questions.services.review import do_approve, do_claim

    settings.EXPORT_MATERIAL_EDIT = 0.3
    kept = approved_review(counsellor, "One question")  # the draft as it stood
    assert kept.final_text == kept.draft.text == "A draft reply [1]."
    for text, final in (("Two question", "A draft answer [1]."),  # 1 word in 4: 0.25
                        ("Three question", "A draft reply [1]. Thank you for writing."),
                        ("Four question", "Thank you for writing to us; sleep before "
                                          "exams is hard, and a routine helps.")):
        question = make_drafted_question(text)
        do_claim(question, counsellor)
        do_approve(question, counsellor, final)

    edits = dashboard.draft_edits(dashboard.window(30))

    assert [v.model_version for v in edits.versions] == ["test-model"]
    version = edits.versions[0]
    assert version.n == 4
    assert version.shares[:3] == [0.0, 0.25, pytest.approx(1 / 3, abs=1e-4)]
    assert version.counts == {"as_is": 1, "light": 1, "rewritten": 2}
    assert version.fractions == {"as_is": 0.25, "light": 0.25, "rewritten": 0.5}
    assert edits.without_draft == 0 and edits.threshold == 0.3


def test_rubric_means_are_per_week_over_current_annotations(counsellor: Any,
                                                           other_counsellor: Any) -> None:
    first = approved_review(counsellor, "One question")
    second = approved_review(counsellor, "Two question")
    do_annotate(first, counsellor, overall=2, empathy=3)
    do_annotate(first, counsellor, overall=4, empathy=3)  # a revision: only it counts
    do_annotate(second, counsellor, overall=2, empathy=5)

    series = dashboard.rubric_scores(dashboard.window(30))

    assert series.bucket == "week" and len(series.rows) == 1
    row = series.rows[0]
    assert row["n"] == 2
    assert row["overall"] == 3.0 and row["empathy"] == 4.0
    assert row["logic"] is None
    assert row["start"].weekday() == 0  # weeks start on Monday
    assert dashboard.rubric_scores(dashboard.window(7)).bucket == "day"


def test_agreement_is_empty_until_a_reply_is_annotated_twice(counsellor: Any,
                                                              other_counsellor: Any,
                                                              supervisor: Any) -> None:
    assert dashboard.agreement()["n_doubly_annotated"] == 0
    for overall in (2, 4, 5):
        doubly_annotated(counsellor, other_counsellor, supervisor,
                         {"overall": overall}, {"overall": overall})
    summary = dashboard.agreement()
    assert summary["n_doubly_annotated"] == 3
    assert summary["dimensions"]["overall"]["alpha"] == 1.0


def test_only_windows_of_7_30_or_90_days_are_accepted() -> None:
    assert dashboard.check_window(None) == 30
    assert dashboard.check_window("90") == 90
    for bad in ("", "14", "-7", "abc", "7.0", "1e3"):
        with pytest.raises(dashboard.BadWindow):
            dashboard.check_window(bad)
