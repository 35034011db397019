"""The question state machine: allowed moves, refused moves, and their audit events."""

from __future__ import annotations

import re
from pathlib import Path

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


def _modules_outside_states_matching(pattern: re.Pattern[str]) -> list[str]:
    """The application modules, states.py and migrations apart, whose source matches."""
    root = Path(__file__).resolve().parent.parent
    return [str(path) for path in [*root.glob("psyconsole/**/*.py"),
                                   *root.glob("inference/**/*.py"),
                                   *root.glob("retrieval/**/*.py")]
            if path.name != "states.py" and "migrations" not in path.parts
            and pattern.search(path.read_text())]


def test_only_the_state_module_assigns_status():
    """House rule: nothing outside states.py writes Question.status."""
    assignment = re.compile(r"\.status\s*=[^=]|\.update\([^)]*\bstatus\s*=|"
                            r"objects\.create\([^)]*\bstatus\s*=", re.DOTALL)
    assert _modules_outside_states_matching(assignment) == []
    assert assignment.search("q.status = 'approved'")
    assert assignment.search("Question.objects.filter(pk=1).update(status='x')")


def test_only_the_state_module_writes_the_fields_a_state_owns():
    """House rule: the claim, the drafting lease and the cancel request belong to states;
    nothing outside states.py assigns or updates them directly."""
    owned = "|".join(states.OWNED_FIELDS)
    assignment = re.compile(rf"\.(?:{owned})(?:_id)?\s*=[^=]|\.update\([^)]*\b(?:{owned})\s*="
                            rf"|objects\.create\([^)]*\b(?:{owned})\s*=", re.DOTALL)
    assert _modules_outside_states_matching(assignment) == []
    assert assignment.search("q.claimed_by = user")
    assert assignment.search("Question.objects.filter(pk=1).update(cancel_requested_at=now)")


def test_no_caller_hands_the_state_module_the_fields_a_state_owns():
    """House rule: a caller says where a question goes, and states.py decides the claim
    and the lease that go with it (`claimed_by=None` passed into a transition is a field
    written by hand). Conditions (`Q(claimed_by=user)`) only read them."""
    owned = "|".join(states.OWNED_FIELDS)
    passed = re.compile(rf"states\.\w+\([^)]*\b(?:{owned})\s*=[^=]", re.DOTALL)
    conditions = re.compile(r"\bQ\([^()]*\)")
    root = Path(__file__).resolve().parent.parent
    offenders = [str(path) for path in [*root.glob("psyconsole/**/*.py"),
                                        *root.glob("inference/**/*.py")]
                 if path.name != "states.py" and "migrations" not in path.parts
                 and passed.search(conditions.sub("Q()", path.read_text()))]
    assert offenders == []
    assert passed.search("states.transition(q, 'withdrawn', actor, claimed_by=None)")
    assert not passed.search(conditions.sub(
        "Q()", "states.transition(q, 'approved', actor, extra_condition=Q(claimed_by=u))"))


@pytest.mark.parametrize("target", sorted({t for targets in TRANSITIONS.values()
                                            for t in targets}))
def test_entering_a_state_clears_the_fields_it_does_not_own(target):
    """Every owned field is null after a move into a state that does not allow it."""
    from django.utils import timezone

    from psyconsole.questions.states import OWNED_FIELDS

    sources = [s for s, targets in TRANSITIONS.items() if target in targets]
    question = _question()
    Question.objects.filter(pk=question.pk).update(
        status=sources[0], drafting_lease_expires_at=timezone.now(),
        cancel_requested_at=timezone.now())
    states.transition(question, target, states.SYSTEM)
    question.refresh_from_db()
    for name, allowed in OWNED_FIELDS.items():
        if target not in allowed:
            assert getattr(question, name) is None, (target, name)


def test_owned_fields_cannot_be_set_in_a_state_that_does_not_own_them():
    from django.utils import timezone

    question = _question()
    with pytest.raises(ValueError, match="drafting_lease_expires_at"):
        states.transition(question, Status.SCREENED, states.SCREENER,
                          drafting_lease_expires_at=timezone.now())
    with pytest.raises(ValueError, match="may not write"):
        states.change_in_state(question, "cancel_draft", states.SYSTEM,
                               claim_expires_at=timezone.now())
