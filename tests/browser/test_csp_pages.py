"""The Content-Security-Policy (no 'unsafe-inline') breaks nothing in a real browser:
the console's pages, the admin and the API docs (Swagger UI) load with no violation,
and the confirmations that were inline onclick handlers still ask, and still stop."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import roles
from psyconsole.questions.models import Question, Status
from tests.browser.conftest import sign_in
from tests.factories import make_drafted_question, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _watch(page: Any) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    return violations


def test_pages_load_with_no_policy_violation(open_page: Any) -> None:
    make_user("casey", roles.COUNSELLOR)
    question = make_drafted_question()
    page = open_page("/")
    violations = _watch(page)
    page.goto("/")
    sign_in(page, "casey")
    page.locator("#live-state").filter(has_text="live").wait_for()
    page.goto(f"/console/questions/{question.pk}/")
    page.goto("/api/v1/docs")
    page.locator(".swagger-ui .info .title").wait_for()  # Swagger UI rendered
    page.goto("/admin/login/")
    page.locator("input[name=username]").wait_for()
    # The dashboard's charts are SVG images with inline style, shown under the page's
    # strict policy: they must load, and nothing may be refused.
    make_user("sam", roles.SUPERVISOR)
    sam = open_page("/")
    dashboard_violations = _watch(sam)
    sign_in(sam, "sam")
    sam.goto("/console/dashboard/")
    sam.locator("#queue-depth img").wait_for()
    sam.wait_for_load_state("load")
    assert sam.evaluate("[...document.images].length") >= 1
    assert sam.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert violations == [] and dashboard_violations == []


def test_a_dismissed_confirmation_stops_the_withdrawal(open_page: Any) -> None:
    question = make_drafted_question()
    page = open_page(f"/track/{question.tracking_code}/")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("button:has-text('Withdraw my question')")
    page.wait_for_timeout(500)
    assert asked == ["Withdraw your question? No counsellor will reply to it."]
    question.refresh_from_db()
    assert question.status != Status.WITHDRAWN
    assert Question.objects.filter(status=Status.WITHDRAWN).count() == 0
