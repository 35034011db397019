from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers


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


# Everything under these holds client text or a tracking code: the console (and the
# staff pages of other apps mounted under it), the client's tracking page, the API and
# the admin.
CLIENT_TEXT_PREFIXES = ("/console/", "/track/", "/api/", "/admin/")


class NoStoreClientText:
    """`Cache-Control: no-store` on every response that can hold client text, so no
    browser or proxy keeps a copy: one place, so a new console page cannot forget it.
    A POST's answer counts too: the question form shows the client's text again when it
    refuses it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method == "POST" or request.path.startswith(CLIENT_TEXT_PREFIXES):
            add_never_cache_headers(response)
        return response
