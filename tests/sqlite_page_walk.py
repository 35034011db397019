"""Run by tests/test_console_pages_on_sqlite.py in a child process whose DATABASE_URL is
SQLite (the database `make demo` runs on): makes a small day's work through the real
services and prints, as JSON, the status of every console and public page it opens."""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse

from psyconsole.questions import roles
from psyconsole.questions.dashboard_views import CHARTS
from psyconsole.questions.models import Question
from psyconsole.questions.services import review as review_service
from tests.factories import make_approved_review, make_drafted_question, make_user


def walk() -> dict[str, int]:
    counsellor = make_user("casey", roles.COUNSELLOR)
    supervisor = make_user("sam", roles.SUPERVISOR)
    approved = make_approved_review(counsellor, "A reply about sleep [1].")
    risky = make_approved_review(counsellor, "A reply.", risk_level="high",
                                 override_reason="Resources given by phone already.")
    open_question = make_drafted_question("Work has been hard lately.")
    review_service.do_claim(open_question, counsellor)
    pages = {
        "queue": reverse("console:queue"),
        "queue_rows": reverse("console:queue_rows"),
        "question": reverse("console:question", args=[open_question.pk]),
        "approved_question": reverse("console:question", args=[approved.question_id]),
        "audit": reverse("console:audit"),
        "audit_sampled": reverse("console:audit") + "?show=sampled",
        "audit_overrides": reverse("console:audit") + "?show=overrides",
        "audit_review": reverse("console:audit_review", args=[risky.pk]),
        "assignments": reverse("console:assignments"),
        "agreement": reverse("console:agreement"),
        "exports": reverse("console:exports"),
        "retrain": reverse("console:retrain"),
        "dashboard": reverse("console:dashboard"),
        **{f"dashboard_{chart}": reverse("console:dashboard_chart", args=[chart])
           for chart in CHARTS},
    }
    statuses: dict[str, int] = {}
    for user in (counsellor, supervisor):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for name, url in pages.items():
            statuses[f"{user.username}:{name}"] = client.get(url).status_code
    tracking = Question.objects.get(pk=approved.question_id).tracking_code
    statuses["client:track"] = Client(HTTP_HOST="127.0.0.1").get(
        reverse("track", args=[tracking])).status_code
    return statuses


print(json.dumps(walk()))
