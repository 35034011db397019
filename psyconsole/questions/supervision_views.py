"""The supervisor's desk in HTML: the audit list (the sampling policy, a per-counsellor
table, filters), one reply's audit view with its outcome form, and a counsellor's
acknowledgement of feedback."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from psyconsole.questions import limits
from psyconsole.questions import supervision_selectors as desk
from psyconsole.questions.models import Feedback, Review
from psyconsole.questions.services.audit import check_not_own_reply
from psyconsole.questions.services.review import ReplyBlocked
from psyconsole.questions.services.supervision import (
    do_acknowledge_feedback,
    do_audit_outcome,
)
from psyconsole.questions.states import TransitionError
from psyconsole.questions.views import _message, _rubric_context, staff_required

supervisor_required = permission_required("questions.audit_reply", raise_exception=True)

_TOKENS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class DiffSegment:
    op: str  # "equal", "del" (in the draft only) or "ins" (in the final reply only)
    text: str


def word_diff(before: str, after: str) -> list[DiffSegment]:
    """The draft against the final reply, word by word (whitespace kept as it was, so the
    reply's paragraphs survive); adjacent pieces of one kind are merged."""
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    segments: list[DiffSegment] = []

    def add(op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if segments and segments[-1].op == op:
            segments[-1] = DiffSegment(op, segments[-1].text + text)
        else:
            segments.append(DiffSegment(op, text))

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False
                                                       ).get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("del", a[i1:i2])
            add("ins", b[j1:j2])
    return segments


def _show(request: HttpRequest) -> str:
    if request.GET.get("overridden"):  # the earlier link, still honoured
        return "overrides"
    show = request.GET.get("show", "all")
    return show if show in desk.SHOW else "all"


def _list_context(request: HttpRequest) -> dict[str, Any]:
    show = _show(request)
    reviews = list(desk.audit_list(show)[:100])
    for review in reviews:
        review.reasons = desk.sampling_reasons(review)
        # A short line diff for the list; the audit view has the word diff.
        review.diff = list(difflib.unified_diff(
            (review.draft.text if review.draft else "").splitlines(),
            review.final_text.splitlines(), "draft", "approved reply", lineterm="", n=1))
    return {
        "reviews": reviews, "show": show,
        "shares": desk.counsellor_shares(),
        "sample_share_percent": round(100 * settings.AUDIT_SAMPLE_SHARE),
        "sample_rules": [desk.RULES[r] for r in desk.RULES
                         if r in settings.AUDIT_SAMPLE_ALWAYS],
        "outcomes": Review.AuditOutcome.choices,
    }


@login_required
@supervisor_required
@require_http_methods(["GET"])
def audit_list(request: HttpRequest) -> HttpResponse:
    return render(request, "console/audit.html", _list_context(request))


def _review(review_id: int) -> Review:
    try:
        return desk.review_for_audit(review_id)
    except Review.DoesNotExist as exc:
        raise Http404("No approved reply with this id.") from exc


def _view_context(request: HttpRequest, review: Review, *,
                  form: dict[str, str] | None = None,
                  blocked: ReplyBlocked | None = None) -> dict[str, Any]:
    draft = review.draft
    try:
        check_not_own_reply(review, request.user)
        own = False
    except PermissionDenied:
        own = True
    # A reverse one-to-one that is not there raises an AttributeError subclass.
    correction = getattr(review, "correction", None)
    feedback = getattr(review, "feedback", None)
    diff = word_diff(draft.text if draft else "", review.final_text)
    return {
        "review": review, "question": review.question, "draft": draft,
        "reasons": desk.sampling_reasons(review),
        "diff": diff,
        "added_words": sum(len(s.text.split()) for s in diff if s.op == "ins"),
        "removed_words": sum(len(s.text.split()) for s in diff if s.op == "del"),
        "sources": draft.passages if draft else [],
        "rubric": _rubric_context(request, review),
        "own": own,
        "correction": correction, "feedback": feedback,
        "form": form or {"outcome": "", "note": "", "correction": "", "override_reason": ""},
        "blocked": blocked,
        "outcomes": Review.AuditOutcome.choices,
        "reason_max_chars": limits.REASON_MAX_CHARS,
        "reply_max_chars": limits.REPLY_MAX_CHARS,
        "override_min_chars": limits.OVERRIDE_REASON_MIN_CHARS,
    }


@login_required
@supervisor_required
@require_http_methods(["GET", "POST"])
def audit_view(request: HttpRequest, review_id: int) -> HttpResponse:
    """One screen for one approved reply: GET shows everything the audit needs, POST
    records the outcome. A POST without `outcome` (the audit list's "Mark sound") is
    sound."""
    review = _review(review_id)
    if request.method == "GET":
        return render(request, "console/audit_review.html", _view_context(request, review))
    form = {"outcome": request.POST.get("outcome") or Review.AuditOutcome.SOUND,
            "note": request.POST.get("note", ""),
            "correction": request.POST.get("correction", ""),
            "override_reason": request.POST.get("override_reason", "")}
    try:
        do_audit_outcome(review, request.user, form["outcome"], form["note"],
                         form["correction"] or None, form["override_reason"] or None)
    except ReplyBlocked as exc:
        # The page again, with the supervisor's text, the findings and an override box.
        messages.error(request, exc.detail.replace("the reply", "the correction"))
        return render(request, "console/audit_review.html",
                      _view_context(request, review, form=form, blocked=exc), status=422)
    except ValidationError as exc:
        messages.error(request, _message(exc))
        return render(request, "console/audit_review.html",
                      _view_context(request, review, form=form), status=422)
    except (TransitionError, PermissionDenied) as exc:
        messages.error(request, str(exc))
        return redirect("console:audit")
    done = {
        Review.AuditOutcome.SOUND: f"Review #{review.pk} audited: sound.",
        Review.AuditOutcome.NEEDS_FEEDBACK: f"Review #{review.pk} audited: your feedback "
                                            "is in the counsellor's console.",
        Review.AuditOutcome.NEEDS_CORRECTION: f"Review #{review.pk} audited: the correction "
                                              "is on the client's tracking page.",
    }
    messages.success(request, done[form["outcome"]])
    return redirect("console:audit")


@login_required
@staff_required
@require_POST
def acknowledge_feedback(request: HttpRequest, feedback_id: int) -> HttpResponse:
    feedback = get_object_or_404(Feedback.objects.select_related("review__question"),
                                 pk=feedback_id)
    try:
        do_acknowledge_feedback(feedback, request.user)
    except (TransitionError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Feedback acknowledged.")
    return redirect("console:queue")
