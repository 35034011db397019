"""The Celery app. Tasks stay thin: they load by id and call a service.

The app reaches its broker through `psyconsole.broker`, so that the embedded Redis is
started before the first task is published or consumed, whoever publishes it.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")


class PsyCelery(Celery):
    def send_task(self, *args: Any, **kwargs: Any) -> Any:
        from psyconsole.broker import ensure_configured_redis

        ensure_configured_redis()
        return super().send_task(*args, **kwargs)


app = PsyCelery("psyconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _start_embedded_redis(**_: object) -> None:
    from psyconsole.broker import ensure_configured_redis

    ensure_configured_redis()
