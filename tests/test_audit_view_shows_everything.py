"""One approved reply's audit view shows, on one screen, the question, the draft with its
findings, the final reply as a word diff (with a text legend), the sources, the
annotations and the rubric, and the outcome form; only supervisors open it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from psyconsole.questions.models import Draft
from psyconsole.questions.services import review as review_service
from psyconsole.questions.services.annotation import do_annotate
from psyconsole.questions.supervision_views import word_diff
from tests.factories import make_drafted_question
from tests.test_form_labels_and_contrast import _unlabelled

pytestmark = pytest.mark.django_db

QUESTION = "Exams start next week and I can't sleep at all."
FINAL = "A kinder reply [1], written for you."
DRAFT_FINDING = {"rule": "citation_unknown", "severity": "warn",
                 "detail": "[2] points to no listed source.", "excerpt": "[2]"}


def _reviewed(counsellor: Any) -> Any:
    question = make_drafted_question(QUESTION)
    # What the model's checks found in the draft (test setup: no model runs here).
    Draft.objects.filter(question=question).update(findings=[DRAFT_FINDING])
    review_service.do_claim(question, counsellor)
    review = review_service.do_approve(question, counsellor, FINAL)
    do_annotate(review, counsellor, overall=4, empathy=5, note="Warm but short.")
    return review


def test_the_audit_view_shows_everything_on_one_screen(client: Any, counsellor: Any,
                                                       supervisor: Any) -> None:
    review = _reviewed(counsellor)
    client.force_login(supervisor)
    response = client.get(f"/console/reviews/{review.pk}/audit/")
    assert response.status_code == 200
    page = response.content.decode()
    assert QUESTION.replace("'", "&#x27;") in page  # the question
    assert "A draft reply [1]." in page and "citation_unknown" in page  # draft, findings
    diff = page[page.index('id="word-diff"'):]
    diff = diff[:diff.index("</div>")]
    assert re.search(r'<del class="diff-del"><span class="visually-hidden">\[removed: '
                     r'</span>draft</del>', diff.replace('<span class="visually-hidden">]'
                                                         '</span>', ""))
    assert '<ins class="diff-ins"><span class="visually-hidden">[added: </span>kinder' in diff
    assert ", written for you." in diff
    assert "struck through" in page and "underlined" in page  # a legend in words
    assert "5 words added, 2 removed" in page
    assert "Sleep" in page and 'href="/corpus/sleep/"' in page  # the source
    assert "Warm but short." in page and "Empathy" in page  # annotation and rubric
    for value in ("sound", "needs_feedback", "needs_correction"):
        assert f'name="outcome" value="{value}"' in page
    assert 'name="correction"' in page and 'name="note"' in page
    assert _unlabelled(page) == []


def test_the_word_diff_keeps_the_words_and_their_spacing() -> None:
    segments = word_diff("One two three.\n\nFour.", "One 2 three.\n\nFour and five.")
    assert [(s.op, s.text) for s in segments] == [
        ("equal", "One "), ("del", "two"), ("ins", "2"), ("equal", " three.\n\n"),
        ("del", "Four."), ("ins", "Four and five.")]
    assert "".join(s.text for s in segments if s.op != "del") == \
        "One 2 three.\n\nFour and five."
    assert "".join(s.text for s in segments if s.op != "ins") == "One two three.\n\nFour."


def test_only_supervisors_open_it(client: Any, counsellor: Any, other_counsellor: Any,
                                  supervisor: Any) -> None:
    review = _reviewed(counsellor)
    client.force_login(other_counsellor)
    assert client.get(f"/console/reviews/{review.pk}/audit/").status_code == 403
    client.force_login(supervisor)
    assert client.get("/console/reviews/999999/audit/").status_code == 404
    question = review_service.do_claim(make_drafted_question(), counsellor)
    rejected = review_service.do_reject(question, counsellor, "Not a question for us.")
    assert client.get(f"/console/reviews/{rejected.pk}/audit/").status_code == 404


def test_the_approver_sees_it_without_the_outcome_form(client: Any, supervisor: Any) -> None:
    question = review_service.do_claim(make_drafted_question(), supervisor)
    review = review_service.do_approve(question, supervisor, FINAL)
    client.force_login(supervisor)
    page = client.get(f"/console/reviews/{review.pk}/audit/").content.decode()
    assert "another supervisor audits it" in page
    assert 'name="outcome"' not in page
