"""Each dashboard chart is its own SVG response (image/svg+xml) with the figures drawn in
it, the page embeds them with alt text and a table, an empty database shows plain empty
states, and a window other than 7, 30 or 90 days is a 400."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from psyconsole.questions import dashboard
from psyconsole.questions import dashboard_charts as charts
from psyconsole.questions.models import Question
from psyconsole.questions.services.annotation import do_annotate
from tests.annotation_factories import approved_review, doubly_annotated
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

CHARTS = ("queue-depth", "first-response", "draft-edits", "rubric", "agreement")


@pytest.fixture
def staff(client: Any, supervisor: Any) -> Any:
    client.force_login(supervisor)
    return client


def _policy(response: Any) -> dict[str, list[str]]:
    return {name: values for name, *values in
            (part.split() for part in response["Content-Security-Policy"].split(";")
             if part.strip())}


def _svg(staff: Any, chart: str, days: int = 30) -> str:
    response = staff.get(f"/console/dashboard/{chart}.svg?days={days}")
    assert response.status_code == 200, chart
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content.decode()
    assert body.lstrip().startswith("<?xml") and "<svg" in body
    assert "<script" not in body
    return body


def test_an_empty_database_gives_empty_states_not_errors(staff: Any) -> None:
    page = staff.get("/console/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No questions in the last 30 days." in html
    assert "No first responses in the last 30 days." in html
    assert "No approved replies based on a draft" in html
    assert "No annotated replies in the last 30 days." in html
    assert "No double annotations yet." in html
    assert "<img" not in html  # nothing to draw: no empty picture either
    assert "No double annotations yet" in _svg(staff, "agreement")
    assert "No questions in the last 7 days" in _svg(staff, "queue-depth", 7)
    for chart in CHARTS:
        _svg(staff, chart, 90)


def test_every_chart_draws_its_figures(staff: Any, counsellor: Any,
                                       other_counsellor: Any, supervisor: Any,
                                       settings: Any) -> None:
    settings.TRIAGE_SLA_MINUTES = {**settings.TRIAGE_SLA_MINUTES, "imminent": 5}
    now = timezone.now()
    urgent = make_drafted_question("An urgent one")
    Question.objects.filter(pk=urgent.pk).update(
        risk_level="imminent", created_at=now - timedelta(minutes=10),
        first_claimed_at=now - timedelta(minutes=7))
    review = approved_review(counsellor, "Exam worries")
    do_annotate(review, counsellor, overall=4, empathy=5)
    doubly_annotated(counsellor, other_counsellor, supervisor, {"overall": 2},
                     {"overall": 4})

    assert "SLA 5 min" in _svg(staff, "first-response")
    assert "100% within SLA" in _svg(staff, "first-response")
    assert "Open questions" in _svg(staff, "queue-depth")
    edits = _svg(staff, "draft-edits")
    assert "test-model" in edits and "Used as it was" in edits
    assert "Empathy" in _svg(staff, "rubric")
    agreement = _svg(staff, "agreement")
    assert "Overall quality" in agreement and "0.8 reliable" in agreement

    html = staff.get("/console/dashboard/?days=7").content.decode()
    for chart in CHARTS:
        assert f'src="/console/dashboard/{chart}.svg?days=7"' in html
    assert 'alt="Bar charts of the minutes to a first claim per risk level' in html
    assert "<td>3 min</td>" in html  # the imminent median, in the table under the chart
    assert 'selected>last 7 days' in html


def test_a_chart_is_the_same_bytes_each_time_and_quick(staff: Any, counsellor: Any) -> None:
    approved_review(counsellor, "Exam worries")
    for chart in CHARTS:
        started = time.perf_counter()
        _svg(staff, chart)
        # About 0.1 s each here; the bound leaves room for a busy CI machine.
        assert time.perf_counter() - started < 1.5, chart
    # The same figures give the same bytes (the queue's own axis moves with the clock,
    # so it is drawn here for a fixed end).
    end = timezone.now()
    win = dashboard.window(30, end)
    drawn = {charts.queue_depth_svg(dashboard.queue_depth(win), win) for _ in range(2)}
    drawn_rubric = {charts.rubric_svg(dashboard.rubric_scores(win), win) for _ in range(2)}
    assert len(drawn) == 1 and len(drawn_rubric) == 1
    assert b"<dc:date>" not in drawn.pop()


def test_a_bad_window_is_a_400_and_an_unknown_chart_a_404(staff: Any) -> None:
    for days in ("14", "", "abc", "30;drop"):
        assert staff.get(f"/console/dashboard/?days={days}").status_code == 400
        assert staff.get(f"/console/dashboard/rubric.svg?days={days}").status_code == 400
    assert staff.get("/console/dashboard/nothing.svg").status_code == 404


def test_only_the_svg_responses_allow_inline_style(staff: Any) -> None:
    page = _policy(staff.get("/console/dashboard/"))
    assert page["style-src"] == ["'self'"] and page["script-src"] == ["'self'"]
    svg = _policy(staff.get("/console/dashboard/queue-depth.svg"))
    assert svg["style-src"] == ["'unsafe-inline'"]
    assert svg["default-src"] == ["'none'"] and svg["script-src"] == ["'none'"]
