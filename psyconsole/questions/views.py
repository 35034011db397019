"""HTML views: the public question form and tracking page, and the counsellors' console."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import markdown
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from psyconsole.questions import limits, selectors
from psyconsole.questions.forms import AnnotationForm, QuestionForm, ReasonForm, ReplyForm
from psyconsole.questions.models import Question, Review, RiskLevel, Status
from psyconsole.questions.services.audit import do_audit
from psyconsole.questions.services.drafting import (
    REDRAFT_INSTRUCTIONS,
    do_cancel_draft,
    do_request_redraft,
)
from psyconsole.questions.services.intake import do_submit_question
from psyconsole.questions.services.review import (
    CLAIMABLE,
    ReplyBlocked,
    do_annotate,
    do_approve,
    do_claim,
    do_escalate,
    do_override_risk,
    do_reject,
    do_release,
    do_save_edit,
    do_take_next,
    do_write_without_draft,
)
from psyconsole.questions.states import TransitionError
from retrieval.models import Article

staff_required = permission_required("questions.view_question", raise_exception=True)


def _form_errors(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


# --- public ----------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    form = QuestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            submission = do_submit_question(form.cleaned_data["text"],
                                                     form.cleaned_data["contact"] or None)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("track", tracking_code=submission.question.tracking_code)
    status = 400 if request.method == "POST" else 200
    return render(request, "public/ask.html", {"form": form}, status=status)


@require_GET
def track(request: HttpRequest, tracking_code: str) -> HttpResponse:
    try:
        question = selectors.question_by_tracking_code(tracking_code)
    except Question.DoesNotExist as exc:
        raise Http404 from exc
    return render(request, "public/track.html", {
        "question": question, "reply": selectors.delivered_reply(question),
    })


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    item = get_object_or_404(Article, slug=slug)
    # The corpus is Markdown; escaping first means no raw HTML from a source survives.
    body = markdown.markdown(escape(item.body))
    return render(request, "public/article.html", {"article": item, "body": body})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "queue": selectors.queue().count()})


# --- console ---------------------------------------------------------------------------

@login_required
@staff_required
@require_GET
def queue_page(request: HttpRequest) -> HttpResponse:
    return render(request, "console/queue.html", _queue_context(request))


@login_required
@staff_required
@require_GET
def queue_rows(request: HttpRequest) -> HttpResponse:
    return render(request, "console/_queue_rows.html", _queue_context(request))


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    from psyconsole.screening.topics import TOPIC_PATTERNS

    status = request.GET.get("status") or None
    risk = request.GET.get("risk") or None
    topic = request.GET.get("topic") or None
    if status not in Status.values:
        status = None
    if topic not in TOPIC_PATTERNS:
        topic = None
    return {
        "questions": selectors.queue(status=status, risk_level=risk, topic=topic)[:200],
        "status": status or "", "risk": risk or "", "topic": topic or "",
        "statuses": Status.choices, "risks": ["imminent", "high", "moderate", "low", "none"],
        "topics": sorted(TOPIC_PATTERNS),
        "sla": selectors.sla_report(),
    }


@login_required
@staff_required
@require_POST
def take_next(request: HttpRequest) -> HttpResponse:
    try:
        question = do_take_next(request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("console:queue")
    if question is None:
        messages.info(request, "Nothing is waiting to be claimed.")
        return redirect("console:queue")
    messages.success(request, f"You have claimed question #{question.pk}.")
    return redirect("console:question", question_id=question.pk)


@login_required
@staff_required
@require_GET
def question_page(request: HttpRequest, question_id: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_id)
    return render(request, "console/question.html", _question_context(request, question.pk))


def _question_context(request: HttpRequest, question_id: int, *, reply_text: str | None = None,
                      blocked: ReplyBlocked | None = None) -> dict[str, Any]:
    question = selectors.question_for_staff(question_id)
    draft = selectors.current_draft(question)
    mine = question.status == Status.IN_REVIEW and question.claimed_by_id == request.user.pk
    approved = selectors.delivered_reply(question)
    if reply_text is None:
        reply_text = selectors.current_reply_text(question)
    return {
        "question": question,
        "draft": draft,
        "drafting": selectors.drafting_status(question),
        "alternatives": selectors.alternative_drafts(question, draft),
        "redraft_instructions": REDRAFT_INSTRUCTIONS,
        "risk_levels": RiskLevel.choices,
        "mine": mine,
        "claimable": question.status in CLAIMABLE,
        "reply_form": ReplyForm(initial={"text": reply_text}),
        "reason_form": ReasonForm(),
        "annotation_form": AnnotationForm(),
        "blocked": blocked,
        "override_max_chars": limits.REASON_MAX_CHARS,
        "override_min_chars": limits.OVERRIDE_REASON_MIN_CHARS,
        "approved": approved,
        "can_see_contact": selectors.can_see_contact(request.user),
        "audit_events": selectors.audit_trail(question)
        if request.user.has_perm("questions.audit_reply") else None,
    }


def _int(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _run(request: HttpRequest, question: Question, action: str) -> str:
    user = request.user
    handlers: dict[str, Callable[[], Any]] = {
        "claim": lambda: do_claim(question, user),
        "release": lambda: do_release(question, user),
        "save": lambda: do_save_edit(question, user, request.POST.get("text", "")),
        "approve": lambda: do_approve(
            question, user, request.POST.get("text"),
            request.POST.get("override_reason") or None),
        "write": lambda: do_write_without_draft(question, user),
        "reject": lambda: do_reject(question, user, request.POST.get("reason", "")),
        "escalate": lambda: do_escalate(question, user, request.POST.get("reason", "")),
        "redraft": lambda: do_request_redraft(
            question, user, request.POST.get("instruction", ""),
            _int(request.POST.get("candidates", "1"))),
        "cancel-draft": lambda: do_cancel_draft(question, user),
        "risk": lambda: do_override_risk(question, user,
                                                  request.POST.get("risk_level", ""),
                                                  request.POST.get("reason", "")),
    }
    if action not in handlers:
        raise Http404
    handlers[action]()
    return {
        "claim": "You have claimed this question.",
        "release": "Released back to the queue.",
        "save": "Your edit is saved.",
        "approve": "Approved and delivered to the client.",
        "write": "You have claimed this question: write your reply; it is checked before "
                 "it is sent.",
        "reject": "Closed without a reply.",
        "escalate": "Escalated to a supervisor.",
        "redraft": "A new draft has been requested.",
        "cancel-draft": "The draft in progress is being stopped.",
        "risk": "Risk level updated; your reason is in the audit trail.",
    }[action]


@login_required
@staff_required
@require_POST
def question_action(request: HttpRequest, question_id: int, action: str) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_id)
    try:
        messages.success(request, _run(request, question, action))
    except ReplyBlocked as exc:
        # Shown on the page itself, with the counsellor's text kept and an override box.
        messages.error(request, exc.detail)
        return render(request, "console/question.html", _question_context(
            request, question.pk, reply_text=request.POST.get("text"), blocked=exc),
            status=422)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (TransitionError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        if action in ("approve", "reject", "release", "escalate"):
            return redirect("console:queue")
    return redirect("console:question", question_id=question.pk)


@login_required
@staff_required
@require_POST
def annotate(request: HttpRequest, review_id: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=review_id)
    form = AnnotationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The annotation has errors: " + form.errors.as_text())
    else:
        data = form.cleaned_data
        tags = [t.strip() for t in data.pop("tags").split(",") if t.strip()]
        try:
            do_annotate(review, request.user, tags=tags, **data)
            messages.success(request, "Annotation saved.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, str(exc))
    return redirect("console:question", question_id=review.question_id)


@login_required
@permission_required("questions.audit_reply", raise_exception=True)
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    reviews = list(selectors.approved_reviews(
        overridden=True if request.GET.get("overridden") else None)[:100])
    for review in reviews:
        draft_text = review.draft.text if review.draft else ""
        review.diff = list(difflib.unified_diff(
            draft_text.splitlines(), review.final_text.splitlines(),
            "draft", "approved reply", lineterm="", n=1,
        ))
    return render(request, "console/audit.html", {"reviews": reviews})


@login_required
@permission_required("questions.audit_reply", raise_exception=True)
@require_POST
def audit_review(request: HttpRequest, review_id: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=review_id)
    try:
        do_audit(review, request.user, request.POST.get("note", ""))
        messages.success(request, f"Review #{review.pk} audited.")
    except (ValidationError, TransitionError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect("console:audit")

