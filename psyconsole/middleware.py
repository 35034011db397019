from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectOversizedApiBodies:
    """Answers 413 before an oversized API body is read, so nothing is parsed or stored."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
            if length > settings.API_MAX_BODY_BYTES:
                return JsonResponse(
                    {"detail": f"Request body is over {settings.API_MAX_BODY_BYTES} bytes."},
                    status=413,
                )
        return self.get_response(request)
