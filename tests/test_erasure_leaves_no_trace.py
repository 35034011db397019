"""After erasure, a dump of the whole database holds neither the client's text nor their
contact, wherever they had been copied; an export that may have held them is deleted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from psyconsole.exports.models import Export
from psyconsole.questions.models import AuditEvent, Question, ScreeningLabel, Status
from psyconsole.questions.services.erasure import do_erase_by_client
from tests.erasure_factories import (
    CONTACT,
    IDEMPOTENCY_KEY,
    MARKER,
    TEXT,
    make_question_copied_everywhere,
)

pytestmark = pytest.mark.django_db(transaction=True)

TRACES = [MARKER, CONTACT, IDEMPOTENCY_KEY, TEXT[:40]]


def _dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


@pytest.fixture
def copied(settings, tmp_path, counsellor) -> Question:
    settings.EXPORT_DIR = tmp_path / "exports"
    return make_question_copied_everywhere(counsellor)


def test_before_erasure_the_dump_holds_the_copies(copied):
    """The search below can fail: the client's text and contact are there to be found."""
    dump = _dump()
    assert all(trace in dump for trace in TRACES)
    assert ScreeningLabel.objects.filter(question=copied).exists()
    # The guardrails quoted the number in the review's findings (kept there for the
    # audit page), but never in an audit event.
    assert CONTACT in str(copied.reviews.get(decision="approved").findings)
    events = AuditEvent.objects.filter(action__in=["approval_blocked", "guardrail_override"])
    assert events.count() == 2
    assert all(CONTACT not in f"{e.reason} {e.data}" for e in events)


def test_after_erasure_nothing_of_it_is_left(copied):
    export = Export.objects.get()
    question = do_erase_by_client(copied)

    dump = _dump()
    assert [trace for trace in [*TRACES, CONTACT.replace(" ", "")] if trace in dump] == []
    assert question.status == Status.ERASED and question.contact == ""
    assert all("evidence" not in f for f in question.risk_factors)
    assert not ScreeningLabel.objects.filter(question=question).exists()
    export.refresh_from_db()
    assert export.state == Export.State.FAILED and "erased" in export.error
    assert not Path(export.directory).exists()
    # The row stays, with its trail; the erasure's own event holds counts, not text.
    event = AuditEvent.objects.get(question=question, action="erase")
    assert (event.from_state, event.to_state, event.actor_label) == ("delivered", "erased",
                                                                     "client")
    assert event.data["drafts"] == 1 and event.data["exports_deleted"] == [export.pk]


def test_an_export_whose_dates_leave_the_reply_out_is_kept(copied, settings):
    held = Export.objects.get()
    directory = Path(settings.EXPORT_DIR) / "export-00002"
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text("{}")
    older = Export.objects.create(requested_by_label="admin", state=Export.State.DONE,
                                  directory=str(directory), filters={"until": "2020-01-31"},
                                  finished_at=held.finished_at)
    do_erase_by_client(copied)
    held.refresh_from_db()
    older.refresh_from_db()
    assert held.state == Export.State.FAILED and not Path(held.directory).exists()
    assert older.state == Export.State.DONE and directory.exists()
