"""Audit events are append-only, in the ORM and in PostgreSQL itself."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from psyconsole.questions import states
from psyconsole.questions.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    question = states.create_received(actor=states.CLIENT, text="Hello")
    return question.audit_events.get()


def test_it_refuses_to_update_an_event_through_the_orm(event):
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()


def test_it_refuses_to_delete_an_event_through_the_orm(event):
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_the_database_refuses_bulk_updates(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")


def test_the_database_refuses_raw_deletes(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("DELETE FROM questions_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()
