"""HTML views: the public question form and tracking page, and the counsellors' console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import markdown
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from psyconsole.questions import limits, presence, rubric, selectors
from psyconsole.questions.forms import AnnotationForm, QuestionForm, ReasonForm, ReplyForm
from psyconsole.questions.models import Question, Review, RiskLevel, Status
from psyconsole.questions.services.annotation import (
    check_can_annotate,
    do_adjudicate,
    do_annotate,
    do_sample_second_annotations,
)
from psyconsole.questions.services.drafting import (
    REDRAFT_INSTRUCTIONS,
    do_cancel_draft,
    do_request_redraft,
)
from psyconsole.questions.services.erasure import do_erase_by_client, do_erase_on_request
from psyconsole.questions.services.intake import do_submit_question, do_withdraw
from psyconsole.questions.services.review import (
    CLAIMABLE,
    ReplyBlocked,
    do_approve,
    do_claim,
    do_escalate,
    do_override_risk,
    do_reassign,
    do_reject,
    do_release,
    do_release_claim,
    do_save_edit,
    do_take_next,
    do_write_without_draft,
)
from psyconsole.questions.states import CLOSED_STATES, OPEN_STATES, TransitionError
from psyconsole.questions.throttle import INTAKE_THROTTLED, intake_throttled
from retrieval.models import Article

staff_required = permission_required("questions.view_question", raise_exception=True)


def _form_errors(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


# --- public ----------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    form = QuestionForm(request.POST or None)
    if request.method == "POST":
        wait = intake_throttled(request, start_session=True)
        if wait is not None:
            # The text stays in the form, and the page leads with the crisis resources:
            # a throttled client may be the one who needs help now.
            response = render(request, "public/ask.html",
                              {"form": form, "throttled": INTAKE_THROTTLED}, status=429)
            response["Retry-After"] = str(wait)
            return response
    if request.method == "POST" and form.is_valid():
        try:
            submission = do_submit_question(form.cleaned_data["text"],
                                            form.cleaned_data["contact"] or None,
                                            human_only=form.cleaned_data["human_only"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("track", tracking_code=submission.question.tracking_code)
    status = 400 if request.method == "POST" else 200
    return render(request, "public/ask.html", {"form": form}, status=status)


# What a client reads for each status: the console's words (screened, drafting, in
# review...) describe our workflow, not anything the client can act on.
CLIENT_STATUS: dict[str, str] = {
    Status.RECEIVED: "Received — a counsellor will reply",
    Status.SCREENED: "Received — a counsellor will reply",
    Status.DRAFTING: "Received — a counsellor will reply",
    Status.DRAFTED: "Received — a counsellor will reply",
    Status.ESCALATED: "Received — a senior counsellor will reply",
    Status.IN_REVIEW: "A counsellor is writing your reply",
    Status.APPROVED: "Replied",
    Status.DELIVERED: "Replied",
    Status.REJECTED: "Closed",
    Status.WITHDRAWN: "Withdrawn — you closed this question",
    Status.ERASED: "Erased",
}


def _tracked(tracking_code: str) -> Question:
    try:
        return selectors.question_by_tracking_code(tracking_code)
    except Question.DoesNotExist as exc:
        raise Http404 from exc


@require_GET
def track(request: HttpRequest, tracking_code: str) -> HttpResponse:
    from psyconsole.questions.supervision_selectors import delivered_correction

    question = _tracked(tracking_code)
    reply = selectors.delivered_reply(question)
    correction = delivered_correction(question) if reply else None
    base = request.build_absolute_uri("/").rstrip("/")
    return render(request, "public/track.html", {
        "question": question, "reply": reply,
        "client_status": CLIENT_STATUS[question.status],
        "reply_text": selectors.client_reply_text(reply.final_text, base) if reply else "",
        # A supervisor's follow-up after the audit, shown under the reply, which is kept.
        "correction": correction,
        "correction_text": selectors.client_reply_text(correction.text, base)
        if correction else "",
        "reply_disclosure": selectors.reply_disclosure(question),
        "human_only_notice": selectors.HUMAN_ONLY_NOTICE if question.human_only else "",
        "can_withdraw": question.status in OPEN_STATES,
    })


@require_POST
def withdraw(request: HttpRequest, tracking_code: str) -> HttpResponse:
    """The client withdraws their question from the tracking page (as the API allows)."""
    question = _tracked(tracking_code)
    try:
        do_withdraw(question)
    except TransitionError:
        # Replied or closed meanwhile: the page says where it stands now.
        messages.error(request, "This question can no longer be withdrawn.")
    else:
        messages.success(request, "Your question is withdrawn. No counsellor will reply.")
    return redirect("track", tracking_code=question.tracking_code)


@require_POST
def erase(request: HttpRequest, tracking_code: str) -> HttpResponse:
    """The client erases their question from the tracking page. The confirmation is a
    ticked box, checked here too, rather than a script dialog (the CSP allows no inline
    script), so a stray POST without it erases nothing."""
    question = _tracked(tracking_code)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you want your question erased.")
        return redirect("track", tracking_code=question.tracking_code)
    try:
        do_erase_by_client(question)
    except TransitionError:
        messages.error(request, "This question is already erased.")
    else:
        messages.success(request, "Your question is erased.")
    return redirect("track", tracking_code=question.tracking_code)


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
    # Anyone may ask whether the service is up; how much is waiting is for staff only (a
    # console session or an API token), as it says how busy, and how watched, it is.
    if not _is_staff_caller(request):
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "ok", "queue": selectors.queue().count()})


def _is_staff_caller(request: HttpRequest) -> bool:
    user: Any = request.user
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not user.is_authenticated and scheme.lower() == "bearer" and token:
        user = selectors.user_for_api_token(token.strip())
    return user is not None and user.has_perm("questions.view_question")


# --- console ---------------------------------------------------------------------------

@login_required
@staff_required
@require_GET
def queue_page(request: HttpRequest) -> HttpResponse:
    from psyconsole.questions.supervision_selectors import open_feedback

    # Feedback from a supervisor's audit, until the counsellor acknowledges it.
    return render(request, "console/queue.html", {**_queue_context(request),
                                                  "feedback": list(open_feedback(request.user))})


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
    questions = list(selectors.queue(status=status, risk_level=risk, topic=topic)[:200])
    # "viewing: ..." beside the questions others have open; console.js keeps it live.
    viewing = presence.names_viewing([q.pk for q in questions], besides=request.user.pk)
    for q in questions:
        q.viewing = viewing.get(q.pk, [])
    return {
        "questions": questions,
        "status": status or "", "risk": risk or "", "topic": topic or "",
        "statuses": Status.choices, "risks": ["imminent", "high", "moderate", "low", "none"],
        "topics": sorted(TOPIC_PATTERNS),
        "closed_states": sorted(CLOSED_STATES),
        "sla": selectors.sla_report(),
    }


@login_required
@staff_required
@require_POST
def take_next(request: HttpRequest) -> HttpResponse:
    try:
        question = do_take_next(request.user)
    except (PermissionDenied, TransitionError) as exc:  # TransitionError: the claim cap
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
                      blocked: ReplyBlocked | None = None, reason: str | None = None,
                      annotation_form: AnnotationForm | None = None) -> dict[str, Any]:
    """The question page. A refused post passes back what was typed (the reply, a
    reason, the annotation form) so that it is shown again, never lost."""
    question = selectors.question_for_staff(question_id)
    draft = selectors.current_draft(question)
    mine = question.status == Status.IN_REVIEW and question.claimed_by_id == request.user.pk
    supervise_claim = (question.status == Status.IN_REVIEW and question.claimed_by_id is not None
                       and request.user.has_perm("questions.audit_reply"))
    approved = selectors.delivered_reply(question)
    escalation = selectors.escalation(question)
    if reply_text is None:
        reply_text = selectors.current_reply_text(question)
    return {
        "question": question,
        # Shown at the top of the page: why a counsellor handed this question on.
        "escalation": escalation,
        "draft": draft,
        "drafting": selectors.drafting_status(question),
        "alternatives": selectors.alternative_drafts(question, draft),
        "redraft_instructions": REDRAFT_INSTRUCTIONS,
        "risk_levels": RiskLevel.choices,
        "mine": mine,
        # An escalated question is claimed by a supervisor only (do_claim): nobody else is
        # offered a button that can only answer with a permission error.
        "claimable": question.status in CLAIMABLE and (
            question.status != Status.ESCALATED or request.user.has_perm("questions.audit_reply")),
        "reply_form": ReplyForm(initial={"text": reply_text}),
        "reason_form": ReasonForm(initial={"reason": reason or ""}),
        "rubric": _rubric_context(request, approved, annotation_form)
        if approved is not None else None,
        "blocked": blocked,
        "override_max_chars": limits.REASON_MAX_CHARS,
        "override_min_chars": limits.OVERRIDE_REASON_MIN_CHARS,
        "approved": approved,
        "can_see_contact": selectors.can_see_contact(request.user),
        # A supervisor may release or reassign whoever's claim it is.
        "supervise_claim": supervise_claim,
        "counsellors": selectors.counsellors().exclude(pk=question.claimed_by_id)
        if supervise_claim else [],
        "reason_max_chars": limits.REASON_MAX_CHARS,
        "audit_events": selectors.audit_trail(question)
        if request.user.has_perm("questions.audit_reply") else None,
        # Who else has this page open now ("Also viewing"); console.js keeps it live.
        "viewers": presence.names_viewing([question.pk], besides=request.user.pk)
        .get(question.pk, []),
    }


def _int(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _run(request: HttpRequest, question: Question, action: str) -> str:
    user = request.user
    handlers: dict[str, Callable[[], Any]] = {
        "claim": lambda: do_claim(question, user),
        "release": lambda: do_release(question, user),
        "release-claim": lambda: do_release_claim(question, user,
                                                  request.POST.get("reason", "")),
        "reassign": lambda: do_reassign(question, user, request.POST.get("to", ""),
                                        request.POST.get("reason", "")),
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
        "erase": lambda: do_erase_on_request(question, user, request.POST.get("reason", "")),
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
        "release-claim": "Claim released back to the queue; your reason is in the audit "
                         "trail.",
        "reassign": "Claim reassigned; your reason is in the audit trail.",
        "save": "Your edit is saved.",
        "approve": "Approved and delivered to the client.",
        "write": "You have claimed this question: write your reply; it is checked before "
                 "it is sent.",
        "reject": "Closed without a reply.",
        "escalate": "Escalated to a supervisor.",
        "redraft": "A new draft has been requested.",
        "cancel-draft": "The draft in progress is being stopped.",
        "risk": "Risk level updated; your reason is in the audit trail.",
        "erase": "Erased: the client's text and contact are deleted; your reason is in "
                 "the audit trail.",
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
        # Bad input (too long, empty, bytes that were not UTF-8): answered with a 4xx on
        # the page itself, and the counsellor's text stays in the editor.
        return _refused_on_page(request, question, exc,
                                keep_reason=action in ("reject", "escalate"))
    except (TransitionError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        if action in ("approve", "reject", "release", "escalate"):
            return redirect("console:queue")
    return redirect("console:question", question_id=question.pk)


def _refused_on_page(request: HttpRequest, question: Question, exc: ValidationError, *,
                     keep_reason: bool = False,
                     annotation_form: AnnotationForm | None = None) -> HttpResponse:
    """Bad input on the question page: the page again with a 422, the reason, and what
    was typed in the editor (and the reject/escalate reason box, which it shares)."""
    messages.error(request, _message(exc))
    context = _question_context(request, question.pk, reply_text=request.POST.get("text"),
                                reason=request.POST.get("reason") if keep_reason else None,
                                annotation_form=annotation_form)
    return render(request, "console/question.html", context, status=422)


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _summary(annotation: Any) -> str:
    parts = [f"{d.label.lower()} {_shown(getattr(annotation, d.name))}"
             for d in rubric.DIMENSIONS]
    if annotation.tags:
        parts.append("tags " + ", ".join(annotation.tags))
    if annotation.note:
        parts.append(f"note \u201c{annotation.note}\u201d")
    return "; ".join(parts)


def _rubric_context(request: HttpRequest, review: Review,
                    form: AnnotationForm | None = None) -> dict[str, Any]:
    """The question page's rubric: the annotations the user may see (none of others'
    while they are its blind second annotator), their own history, and the form."""
    review = (Review.objects.select_related("question", "reviewer")
              .prefetch_related("annotations__author", "annotation_assignments",
                                "adjudications").get(pk=review.pk))
    user = request.user
    shown = selectors.visible_annotations(review, user)
    mine = selectors.my_annotation(review, user)
    supervisor = user.has_perm("questions.audit_reply")
    exported = selectors.rubric_for_export(review) if supervisor and shown else None
    try:
        check_can_annotate(review, user)
        can_annotate = True
    except PermissionDenied:
        can_annotate = False
    rows = [{"label": d.label, "scale": d.scale,
             "values": [_shown(getattr(a, d.name)) for a in shown],
             "exported": _shown(exported[d.name]) if exported else None}
            for d in rubric.DIMENSIONS]
    return {
        "review": review,
        "annotations": shown,
        "rows": rows,
        "exported": exported,
        "mine": mine,
        "history": [{"created_at": a.created_at, "superseded_at": a.superseded_at,
                     "summary": _summary(a)}
                    for a in (selectors.annotation_history(review, user)[1:] if mine else [])],
        "blind": selectors.is_blind(review, user),
        "can_annotate": can_annotate,
        "form": form if form is not None else AnnotationForm(annotation=mine),
    }


def _message(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


@login_required
@staff_required
@require_POST
def annotate(request: HttpRequest, review_id: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=review_id)
    form = AnnotationForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("The annotation has errors: " + form.errors.as_text())
        annotation = do_annotate(review, request.user, **form.rubric_data())
    except ValidationError as exc:
        # Shown again with what was typed, and a 4xx, rather than lost in a redirect.
        return _refused_on_page(request, review.question, exc, annotation_form=form)
    except PermissionDenied as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, "Annotation revised; the earlier version is kept."
                         if annotation.supersedes_id else "Annotation saved.")
    url = reverse("console:question", kwargs={"question_id": review.question_id})
    return redirect(f"{url}#annotations")


@login_required
@staff_required
@require_GET
def assignments_page(request: HttpRequest) -> HttpResponse:
    """"Annotations assigned to me": blind second annotations to do, then done ones."""
    found = list(selectors.annotation_assignments(request.user, open_only=False)[:200])
    return render(request, "console/assignments.html", {
        "open": [a for a in found if a.completed_at is None],
        "done": [a for a in found if a.completed_at is not None][:50],
    })


@login_required
@permission_required("questions.audit_reply", raise_exception=True)
@require_GET
def agreement_page(request: HttpRequest) -> HttpResponse:
    return render(request, "console/agreement.html", _agreement_context())


def _agreement_context() -> dict[str, Any]:
    summary = selectors.agreement_summary()
    return {
        "summary": summary,
        "dimensions": [{"name": name, **row} for name, row in summary["dimensions"].items()],
        "disagreements": selectors.disagreements(open_only=True),
        "annotators": selectors.annotators(),
        "waiting": selectors.reviews_for_second_annotation().count(),
        "risk_levels": RiskLevel.choices,
        "ratings": range(limits.RATING_RANGE[0], limits.RATING_RANGE[1] + 1),
        "reason_max_chars": limits.REASON_MAX_CHARS,
    }


def _refused(request: HttpRequest, template: str, context: dict[str, Any],
             exc: ValidationError) -> HttpResponse:
    """Bad input on a staff page: the page again, with the reason and a 4xx."""
    messages.error(request, _message(exc))
    return render(request, template, context, status=422)


@login_required
@permission_required("questions.audit_reply", raise_exception=True)
@require_POST
def sample_annotations(request: HttpRequest) -> HttpResponse:
    chosen = request.POST.getlist("annotators")
    annotators = list(selectors.annotators().filter(pk__in=[c for c in chosen
                                                               if c.isdigit()]))
    try:
        share = float(request.POST.get("share") or 0) / 100
    except ValueError:
        share = -1.0  # refused by the service, with its message
    try:
        sample = do_sample_second_annotations(
            request.user, annotators=annotators, share=share,
            risk_levels=request.POST.getlist("risk_levels"))
    except ValidationError as exc:
        return _refused(request, "console/agreement.html", _agreement_context(), exc)
    except (PermissionDenied, TransitionError) as exc:
        messages.error(request, _message(exc))
    else:
        skipped = (f" {len(sample.skipped)} could not be assigned (no eligible annotator)."
                   if sample.skipped else "")
        messages.success(request, f"{len(sample.assigned)} of {sample.considered} approved "
                                  f"replies sent for a blind second annotation.{skipped}")
    return redirect("console:agreement")


@login_required
@permission_required("questions.audit_reply", raise_exception=True)
@require_POST
def adjudicate(request: HttpRequest, review_id: int) -> HttpResponse:
    review = get_object_or_404(Review, pk=review_id)
    dimension = request.POST.get("dimension", "")
    raw = request.POST.get("value", "")
    value: object = raw
    if dimension in rubric.NOMINAL_NAMES and raw in ("yes", "no"):
        value = raw == "yes"
    elif raw.isdigit():
        value = int(raw)
    try:
        do_adjudicate(review, request.user, dimension, value, request.POST.get("reason", ""))
    except ValidationError as exc:
        return _refused(request, "console/agreement.html", _agreement_context(), exc)
    except PermissionDenied as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, f"Adjudicated {dimension} for review #{review.pk}.")
    return redirect("console:agreement")
