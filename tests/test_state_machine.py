"""The question state machine: allowed moves, refused moves, and their audit events."""

from __future__ import annotations

import pytest

from psyconsole.questions import states
from psyconsole.questions.models import Question, Status
from psyconsole.questions.states import TRANSITIONS, TransitionError

pytestmark = pytest.mark.django_db


def _question(**fields) -> Question:
    return states.create_received(actor=states.CLIENT, text="A question", **fields)


def test_every_state_is_in_the_table():
    assert set(TRANSITIONS) == set(Status.values)


def test_the_happy_path_is_allowed():
    path = ["screened", "drafting", "drafted", "in_review", "approved", "delivered"]
    for a, b in zip(["received", *path], path, strict=False):
        assert states.can_transition(a, b), (a, b)


@pytest.mark.parametrize(("start", "target"), [
    ("received", "approved"), ("screened", "delivered"), ("drafted", "approved"),
    ("delivered", "in_review"), ("withdrawn", "screened"), ("rejected", "approved"),
])
def test_it_refuses_moves_that_skip_review(start, target):
    assert not states.can_transition(start, target)


def test_a_transition_writes_an_audit_event():
    question = _question()
    states.transition(question, Status.SCREENED, states.SCREENER, reason="risk none")
    event = question.audit_events.last()
    assert (event.actor_label, event.from_state, event.to_state, event.reason) == (
        "screener", "received", "screened", "risk none")


def test_a_refused_transition_changes_nothing():
    question = _question()
    events_before = question.audit_events.count()
    with pytest.raises(TransitionError):
        states.transition(question, Status.APPROVED, states.SYSTEM)
    question.refresh_from_db()
    assert question.status == Status.RECEIVED
    assert question.audit_events.count() == events_before


def test_a_stale_object_cannot_win_a_race():
    question = _question()
    stale = Question.objects.get(pk=question.pk)
    states.transition(question, Status.SCREENED, states.SCREENER)
    states.transition(question, Status.WITHDRAWN, states.CLIENT)
    with pytest.raises(TransitionError):
        states.transition(stale, Status.SCREENED, states.SCREENER)


def test_only_the_state_module_assigns_status():
    """House rule: nothing outside states.py writes Question.status."""
    import re
    from pathlib import Path

    assignment = re.compile(r"\.status\s*=[^=]|\.update\([^)]*\bstatus\s*=|"
                            r"objects\.create\([^)]*\bstatus\s*=", re.DOTALL)
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in [*root.glob("psyconsole/**/*.py"), *root.glob("inference/**/*.py"),
                 *root.glob("retrieval/**/*.py")]:
        if path.name == "states.py" or "migrations" in path.parts:
            continue
        if assignment.search(path.read_text()):
            offenders.append(str(path))
    assert offenders == []
    assert assignment.search("q.status = 'approved'")
    assert assignment.search("Question.objects.filter(pk=1).update(status='x')")
