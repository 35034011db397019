"""A saved annotation is shown again on the question page: to its author (the saved
values, and the form pre-filled to revise them) and to supervisors (the annotations
list). tests/test_rubric.py covers the reviewer annotating their own reply; these cover
a supervisor and a blind second annotator."""

from __future__ import annotations

from typing import Any

import pytest

from psyconsole.questions import rubric
from psyconsole.questions.services.annotation import do_assign_second_annotation
from tests.annotation_factories import approved_review

pytestmark = pytest.mark.django_db

FORM = {**dict.fromkeys(rubric.NAMES, ""), "overall": "4", "medical_advice": "no",
        "tags": "warm, good-steps", "note": "Kind and specific."}


def _save(client: Any, review: Any, user: Any) -> str:
    client.force_login(user)
    response = client.post(f"/console/reviews/{review.pk}/annotate/", FORM, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def _shows_saved(page: str, author: str) -> None:
    table = page[page.index('class="rubric-table"'):page.index("</table>")]
    assert author in table and "Kind and specific." in table and "warm, good-steps" in table
    # The form to revise it starts from what was saved.
    assert "Revise your annotation" in page
    assert 'value="4" id="id_overall_4" checked' in page
    assert 'value="no" id="id_medical_advice_2" checked' in page
    assert "Kind and specific.</textarea>" in page


def test_a_supervisors_annotation_is_shown_again_and_listed(client, counsellor, supervisor):
    review = approved_review(counsellor)
    page = _save(client, review, supervisor)
    assert "Annotation saved." in page
    _shows_saved(page, "Sam")
    # The reviewer sees it in the list too.
    client.force_login(counsellor)
    page = client.get(f"/console/questions/{review.question_id}/").content.decode()
    assert "Kind and specific." in page[page.index('id="annotations"'):]


def test_a_blind_second_annotation_is_shown_to_its_author_after_saving(
        client, counsellor, other_counsellor, supervisor):
    review = approved_review(counsellor)
    do_assign_second_annotation(review, supervisor, other_counsellor)
    page = _save(client, review, other_counsellor)
    assert "blind second annotation" not in page  # done: no longer blind
    _shows_saved(page, "(blind second)")
    client.force_login(supervisor)
    page = client.get(f"/console/questions/{review.question_id}/").content.decode()
    assert "(blind second)" in page and "Kind and specific." in page
