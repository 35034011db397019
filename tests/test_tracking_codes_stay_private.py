"""A tracking code is a client's only secret: the console (API and pages) never shows it
to staff, and no access log line holds it, whichever server writes the line."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from daphne.access import AccessLogGenerator
from daphne.management.commands.runserver import Command as RunserverCommand

from psyconsole.logging import ScrubPII
from tests.factories import make_drafted_question

pytestmark = pytest.mark.django_db

CODE = "Zq-8765432109_abcDEF-0123456789x"  # the shape of models.new_tracking_code()


def test_the_console_api_never_returns_a_tracking_code(staff_api, supervisor):
    question = make_drafted_question()
    code = question.tracking_code
    seen = [staff_api.get("/api/v1/console/queue"),
            staff_api.get(f"/api/v1/console/questions/{question.pk}"),
            staff_api.post(f"/api/v1/console/questions/{question.pk}/claim")]
    staff_api.force_login(supervisor)  # supervisors see more, but not this
    seen.append(staff_api.get(f"/api/v1/console/questions/{question.pk}"))
    for response in seen:
        assert response.status_code == 200
        assert code not in response.content.decode()
        assert "tracking_code" not in response.content.decode()


def test_the_console_page_never_shows_it(client, supervisor):
    question = make_drafted_question()
    client.force_login(supervisor)
    page = client.get(f"/console/questions/{question.pk}/").content.decode()
    assert "sleep before exams" in page and question.tracking_code not in page


def _capture(logger_name: str) -> tuple[io.StringIO, Any, Any]:
    """The configured handler that `logger_name`'s records reach, writing to a buffer."""
    logger = logging.getLogger(logger_name)
    while not logger.handlers and logger.propagate and logger.parent:
        logger = logger.parent
    [handler] = logger.handlers
    assert any(isinstance(f, ScrubPII) for f in handler.filters)
    buffer = io.StringIO()
    return buffer, handler, handler.setStream(buffer)


@pytest.mark.parametrize("path", [f"/track/{CODE}/", f"/api/v1/questions/{CODE}",
                                  f"/api/v1/questions/{CODE}/withdraw"])
def test_djangos_request_log_and_runserver_never_hold_it(path):
    buffer, handler, stream = _capture("django.request")
    try:
        logging.getLogger("django.request").warning("Not Found: %s", path)
        RunserverCommand().log_action("http", "complete", {
            "path": path, "status": 404, "method": "GET", "client": "10.0.0.7:50312",
            "time_taken": 0.01, "size": 123456})
    finally:
        handler.setStream(stream)
    lines = buffer.getvalue()
    assert CODE not in lines
    assert lines.count("[code]") == 2
    assert "10.0.0.7:50312" in lines  # the address is left alone


def test_daphnes_own_access_log_never_holds_it():
    import psyconsole.logging  # noqa: F401 - loaded with the settings; scrubs daphne

    stream = io.StringIO()
    AccessLogGenerator(stream)("http", "complete", {
        "path": f"/track/{CODE}/", "status": 200, "method": "GET",
        "client": "192.168.1.20:41000", "time_taken": 0.02, "size": 51200})
    line = stream.getvalue()
    assert CODE not in line
    assert line.startswith("192.168.1.20:41000 - - [")
    assert '"GET /track/[code]/" 200 51200' in line
