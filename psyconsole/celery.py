"""The Celery app. Tasks stay thin: they load by id and call a service."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")

app = Celery("psyconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _start_embedded_redis(**_: object) -> None:
    from psyconsole.embedded_redis import ensure_configured_redis

    ensure_configured_redis()
