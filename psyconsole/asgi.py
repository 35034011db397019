"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from psyconsole.broker import ensure_configured_redis  # noqa: E402
from psyconsole.questions.routing import websocket_urlpatterns  # noqa: E402

ensure_configured_redis()


def _warm_up_screening() -> None:
    # Load the screening classifier now, so the first client is screened in milliseconds too.
    from psyconsole.screening import classifier, screen

    if classifier.get_model() is not None:
        screen("warm up")


_warm_up_screening()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
