"""Exports for retraining leave out every question whose client asked for a reply
without AI, even one that somehow has a draft, and the dataset card says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psyconsole.exports import card, service
from psyconsole.questions import roles
from psyconsole.questions.models import Question
from psyconsole.questions.services.review import do_approve, do_claim
from tests.factories import make_drafted_question, make_user

pytestmark = pytest.mark.django_db

REPLY = "A reply the counsellor wrote [1]."


def _approved(counsellor, text: str, *, human_only: bool) -> Question:
    question = make_drafted_question(text)
    if human_only:
        # Test setup: a human_only question that has a draft anyway (no service makes
        # one), so that only the exclusion, not the missing prompt, can keep it out.
        Question.objects.filter(pk=question.pk).update(human_only=True)
    do_claim(question, counsellor)
    do_approve(question, counsellor, REPLY)
    return question


def test_an_export_leaves_out_questions_whose_client_chose_no_ai(settings, tmp_path,
                                                                  counsellor):
    settings.EXPORT_DIR = tmp_path / "exports"
    settings.PII_NER = False  # patterns only: fast, and names are not what is tested
    _approved(counsellor, "I can't sleep before exams.", human_only=False)
    _approved(counsellor, "Exams make me so tense.", human_only=True)
    staff = make_user("ada", roles.ADMIN)
    export = service.do_request_export(staff, service.check_export_filters({}), queue=False)
    done = service.do_run_export(export.pk)

    prompts = []
    for path in Path(done.directory).rglob("*.jsonl"):
        prompts += [json.dumps(json.loads(line)) for line in path.read_text().splitlines()]
    assert any("sleep before exams" in p for p in prompts)
    assert not any("so tense" in p for p in prompts)
    counts = done.manifest["counts"]
    assert counts["reviews_exported"] == 1
    assert counts["left_out"] == {card.HUMAN_ONLY_LEFT_OUT: 1}
    readme = (Path(done.directory) / "README.md").read_text()
    assert "asked for a reply written without AI are never exported" in readme
