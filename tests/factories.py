"""What tests share besides fixtures: the repository root, users of a role, a JSON
client, a drafted question made without a model, and a folder of fixture articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from psyconsole.questions import roles

ROOT = Path(__file__).resolve().parent.parent


def copy_articles(directory: Path, slugs: list[str]) -> Path:
    """A folder holding these fixture articles, for a test corpus."""
    for slug in slugs:
        shutil.copy(ROOT / "fixtures" / "articles" / f"{slug}.md", directory)
    return directory


def make_user(username: str, role: str | None) -> Any:
    roles.ensure_roles()
    user = get_user_model().objects.create_user(
        username=username, password="correct horse battery staple",
        first_name=username.capitalize(),
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


class JsonClient(Client):
    def post_json(self, path: str, data: Any = None, **extra: Any) -> Any:
        body = data if isinstance(data, (str, bytes)) else json.dumps(data)
        return self.post(path, body, content_type="application/json", **extra)


def make_drafted_question(text: str = "I can't sleep before exams.") -> Any:
    """A screened question with one draft, made without running a model."""
    from inference.models import ModelVersion
    from psyconsole.questions import states
    from psyconsole.questions.models import Draft, Status
    from psyconsole.questions.services import intake

    question = intake.do_submit_question(text).question
    states.transition(question, Status.DRAFTING, states.WORKER)
    version, _ = ModelVersion.objects.get_or_create(name="test-model",
                                                    defaults={"base_model": "test"})
    Draft.objects.create(
        question=question, model_version=version, text="A draft reply [1].",
        raw_text="A draft reply [1].", prompt=[{"role": "user", "content": text}],
        prompt_version="test", passages=[{"chunk_id": 1, "score": 0.5, "article_title": "Sleep",
                                          "url": "/corpus/sleep/", "heading": "", "text": "..."}],
    )
    return states.transition(question, Status.DRAFTED, states.WORKER)


def make_approved_review(counsellor: Any, reply: str = "A reply about sleep.", *,
                         text: str = "I can't sleep before exams.",
                         risk_level: str | None = None, override_reason: str | None = None
                         ) -> Any:
    """A drafted question approved (and delivered) by `counsellor`, through the services;
    `risk_level` pins the level first (test setup, as the screener would have set it)."""
    from psyconsole.questions.models import Question
    from psyconsole.questions.services import review
    from psyconsole.screening.levels import PRIORITY

    question = make_drafted_question(text)
    if risk_level is not None:
        Question.objects.filter(pk=question.pk).update(risk_level=risk_level,
                                                       priority=PRIORITY[risk_level])
        question.refresh_from_db()
    review.do_claim(question, counsellor)
    return review.do_approve(question, counsellor, reply, override_reason)
