"""Audit events are append-only, so they must never hold client text an erasure would
have to reach: the guardrails' excerpts are left out of them, and migration 0011 scrubs
the ones written before, with the append-only trigger back on afterwards."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from psyconsole.questions import states
from psyconsole.questions.models import AuditEvent
from tests.erasure_factories import CONTACT, make_question_copied_everywhere

pytestmark = pytest.mark.django_db

migration = importlib.import_module("psyconsole.questions.migrations.0011_erasure")


def test_blocked_and_overridden_approvals_audit_no_excerpt(settings: Any, tmp_path: Any,
                                                           counsellor: Any) -> None:
    settings.EXPORT_DIR = tmp_path / "exports"
    make_question_copied_everywhere(counsellor)
    events = AuditEvent.objects.filter(action__in=migration.SCRUBBED_ACTIONS)
    assert {e.action for e in events} == set(migration.SCRUBBED_ACTIONS)
    for event in events:
        assert event.data["findings"], event.action
        assert all("excerpt" not in f for f in event.data["findings"])
        assert CONTACT not in event.reason
    assert all(CONTACT not in f"{e.reason} {e.data}" for e in AuditEvent.objects.all())


def test_the_migration_scrubs_excerpts_written_before() -> None:
    old = states.record_event(
        None, states.SYSTEM, "approval_blocked",
        reason=f"Not sent: the reply has 1 blocking finding (unlisted_phone_number "
               f"\u201c{CONTACT}\u201d).",
        data={"findings": [{"rule": "unlisted_phone_number", "severity": "block",
                            "detail": "a phone number", "excerpt": CONTACT}]})
    other = states.record_event(None, states.SYSTEM, "claim", reason="kept as it was")
    with connection.schema_editor() as editor:
        migration.scrub_audit_excerpts(apps, editor)
    old.refresh_from_db()
    assert CONTACT not in f"{old.reason} {old.data}"
    assert old.data["findings"] == [{"rule": "unlisted_phone_number", "severity": "block",
                                     "detail": "a phone number"}]
    other.refresh_from_db()
    assert other.reason == "kept as it was"
    if connection.vendor == "postgresql":  # the database refuses changes again
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=other.pk).update(reason="changed")
