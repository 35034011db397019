"""Management commands: seed_demo, draft, build_index and retrieve."""

from __future__ import annotations

import io
import json

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from psyconsole.questions.models import Question, Review

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_each_role_and_sample_questions(settings, tmp_path, trained):
    settings.INDEX_DIR = tmp_path / "index"
    # Three of the demo's reviewed replies: test_demo_reviews seeds all of them.
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join((settings.BASE_DIR / "fixtures" / "demo_reviews.jsonl")
                               .read_text().splitlines(True)[:3]))
    out = io.StringIO()
    call_command("seed_demo", "--reviews", str(reviews), stdout=out)
    text = out.getvalue()
    users = get_user_model().objects.in_bulk(field_name="username")
    for username, role in [("counsellor", "counsellor"), ("supervisor", "supervisor"),
                           ("admin", "admin")]:
        assert users[username].groups.filter(name=role).exists()
        password = next(line.split()[-1] for line in text.splitlines()
                        if f"username: {username} " in line)
        assert users[username].check_password(password)
    demo_reviews = 3
    # 12 sample questions, plus the demo's reviewed replies (each one question; a demo
    # question the screener calls a crisis is left unanswered rather than seeded)
    assert Question.objects.count() == 12 + demo_reviews
    approved = Review.objects.filter(decision=Review.Decision.APPROVED).count()
    assert 1 <= approved <= demo_reviews
    assert f"Seeded {approved} reviewed and annotated replies" in text
    assert (settings.INDEX_DIR / "current" / "manifest.json").exists()
    call_command("seed_demo", "--no-index", stdout=io.StringIO())
    assert Question.objects.count() == 12 + demo_reviews  # a re-run adds no duplicates


def test_draft_prints_a_grounded_draft_as_json(tiny_model, corpus_index):
    out = io.StringIO()
    call_command("draft", "I keep thinking about suicide", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["model"] == "tiny-smollm2"
    assert result["engine"] == "int4"
    assert result["risk_level"] == "high"
    assert result["passages"] and result["passages"][0]["title"]
    assert "988" in result["draft"]  # crisis resources for a risky question
    assert {"retrieval_ms", "generation_ms", "first_token_ms"} <= set(result["timings"])
    assert result["completion_tokens"] > 0
    assert Question.objects.count() == 0  # drafting from the command stores nothing


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001])
def test_draft_rejects_bad_text(text):
    with pytest.raises(CommandError):
        call_command("draft", text)


def test_retrieve_prints_json(corpus_index):
    out = io.StringIO()
    call_command("retrieve", "panic attacks on the bus", "--k", "2", "--json", stdout=out)
    results = json.loads(out.getvalue())
    assert len(results) == 2
    assert results[0]["article_slug"] == "anxiety-and-panic"


@pytest.mark.parametrize("args", [["", "--k", "2"], ["sleep", "--k", "0"]])
def test_retrieve_rejects_bad_arguments(corpus_index, args):
    with pytest.raises(CommandError):
        call_command("retrieve", *args)


def test_drafting_status_shows_the_model_and_what_is_waiting(db, tiny_model, settings):
    from django.conf import settings as live

    from psyconsole.questions.services import intake
    from psyconsole.questions.tasks import draft_question

    intake.do_submit_question("I can't sleep")
    def status() -> dict:
        out = io.StringIO()
        call_command("drafting_status", "--json", stdout=out)
        return json.loads(out.getvalue())

    before = status()
    draft_question.apply_async((999999,), priority=6)
    after = status()
    assert after["backend"] == "transformers"
    assert after["model_version"] == "tiny-smollm2"
    assert after["adapter"] is None
    assert after["waiting_for_first_draft"] == 1
    assert after["batch_size"] == live.DRAFT_BATCH_SIZE
    assert after["broker_queue_depth"] == before["broker_queue_depth"] + 1
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE + ":6")
