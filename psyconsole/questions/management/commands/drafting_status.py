"""`manage.py drafting_status [--json]`: what drafts replies (the backend, the active
model version from inference.versions, its adapter, the engine) and how much is waiting.
It reads settings and the database and loads no model."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from inference.models import ModelVersion
from inference.versions import active_spec
from psyconsole.questions.models import Question, Status


def broker_queue_depth() -> int | None:
    """Drafting tasks waiting in the broker, or None if it cannot be reached."""
    import redis

    # kombu keeps one Redis list per priority step: "queue" for 0, "queue<sep>N" for N.
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    keys = [queue] + [f"{queue}{options['sep']}{step}" for step in options["priority_steps"]
                      if step]
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1)
        return sum(int(client.llen(key)) for key in keys)
    except redis.RedisError:
        return None


class Command(BaseCommand):
    help = ("Shows what drafts replies: the backend, the model version and adapter, and how "
            "much is waiting. Reads settings and the database; loads no model.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        spec = active_spec()
        promoted = ModelVersion.objects.filter(is_default=True).first()
        now = timezone.now()
        drafting = Question.objects.filter(status=Status.DRAFTING)
        status = {
            "backend": settings.LLM_BACKEND,
            "model_version": (settings.LLM_API_MODEL if settings.LLM_BACKEND == "openai"
                              else spec.name),
            "model_path": settings.LLM_API_BASE if settings.LLM_BACKEND == "openai"
            else (spec.path or "packaged SmolLM2-135M-Instruct"),
            "adapter": spec.adapter or None,
            "promoted_version": promoted.name if promoted else None,
            "batch_size": settings.DRAFT_BATCH_SIZE,
            "engine": settings.LLM_ENGINE if settings.LLM_BACKEND == "transformers" else None,
            "prompt_lookup_tokens": settings.LLM_PROMPT_LOOKUP_TOKENS,
            "waiting_for_first_draft": Question.objects.filter(
                status=Status.SCREENED, drafts__isnull=True).count(),
            "drafting_now": drafting.count(),
            "drafting_lease_expired": drafting.filter(
                drafting_lease_expires_at__lt=now).count(),
            "broker_queue_depth": broker_queue_depth(),
        }
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2))
            return
        for name, value in status.items():
            shown = "unreachable" if name == "broker_queue_depth" and value is None else value
            self.stdout.write(f"{name.replace('_', ' '):26} {shown}")
