"""The JSON API: public intake and tracking, plus every console action for staff.

Views stay thin: they parse, call a service or selector, and shape the answer.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router
from ninja import Status as Reply
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from psyconsole.exports.api import router as exports_router
from psyconsole.exports.models import Export
from psyconsole.questions import limits, selectors
from psyconsole.questions.models import AuditEvent, Question, Review, RiskLevel, Status
from psyconsole.questions.schemas import (
    AdjudicationIn,
    AdjudicationOut,
    AgreementOut,
    AnnotationAssignmentOut,
    AnnotationIn,
    AnnotationOut,
    ApproveIn,
    AuditEventOut,
    BlockedOut,
    DisagreementOut,
    EditOut,
    ErrorOut,
    NoteIn,
    QuestionCreatedOut,
    QuestionDetailOut,
    QuestionIn,
    QuestionStatusOut,
    QueueItemOut,
    ReasonIn,
    ReassignIn,
    RedraftIn,
    ReviewOut,
    RiskOverrideIn,
    SampleIn,
    SampleOut,
    SlaOut,
    TextIn,
    ThrottledOut,
    TokenIn,
    TokenOut,
)
from psyconsole.questions.services.annotation import (
    do_adjudicate,
    do_annotate,
    do_sample_second_annotations,
)
from psyconsole.questions.services.audit import do_audit
from psyconsole.questions.services.checks import check_can
from psyconsole.questions.services.drafting import do_cancel_draft, do_request_redraft
from psyconsole.questions.services.erasure import do_erase_by_client, do_erase_on_request
from psyconsole.questions.services.intake import do_submit_question, do_withdraw
from psyconsole.questions.services.review import (
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
from psyconsole.questions.services.tokens import do_issue_api_token
from psyconsole.questions.states import TransitionError
from psyconsole.questions.throttle import (
    SIGN_IN_THROTTLED,
    intake_throttled,
    throttled_body,
    token_throttled,
)

TOKEN_HOURS = 12


class BodyError(ValueError):
    def __init__(self, message: str, status: int = 400, detail: Any = None) -> None:
        super().__init__(message)
        self.http_status = status
        self.detail = message if detail is None else detail


def _lone_surrogate_field(body: Any) -> list[str | int] | None:
    """Where in a parsed body a string (a value or a field name) holds a lone surrogate,
    as a `loc`, or None. Checked here, for every field of every endpoint at once: such a
    string passes the schemas but fails wherever it is encoded (a password hash, the
    database, a log line), as a 500. A stack, not recursion: the body may be deep."""
    stack: list[tuple[Any, list[str | int]]] = [(body, [])]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if limits.has_lone_surrogate(value):
                return loc
        elif isinstance(value, dict):
            for key, item in value.items():
                if limits.has_lone_surrogate(key):
                    return loc
                stack.append((item, [*loc, key]))
        elif isinstance(value, list):
            stack.extend((item, [*loc, n]) for n, item in enumerate(value))
    return None


class StrictJSONParser(Parser):
    """JSON bodies only, UTF-8 only, and errors that say what is wrong."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise BodyError(f"Content-Type must be application/json, not "
                            f"{request.content_type or 'missing'}.", status=415)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError("The request body is not valid UTF-8.") from exc
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BodyError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column "
                            f"{exc.colno}.") from exc
        except RecursionError as exc:
            raise BodyError("Malformed JSON: nested too deeply.") from exc
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise BodyError("Malformed JSON: a number is too long.") from exc
        if not isinstance(body, dict):
            # A list or a bare value would otherwise pass as "no fields given" and act
            # on the defaults (an empty annotation, a redraft nobody asked for).
            raise BodyError(f"Field required: the request body must be a JSON object of "
                            f"fields, not a {type(body).__name__}.", status=422)
        loc = _lone_surrogate_field(body)
        if loc is not None:
            name = ".".join(str(part) for part in loc) or "a field name"
            message = (f"{name} contains a lone surrogate (a \\ud800-\\udfff escape on its "
                       "own), which is not valid Unicode text.")
            raise BodyError(message, status=422, detail=[
                {"loc": ["body", *loc], "msg": message, "type": "value_error"}])
        return body


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = selectors.user_for_api_token(token)
        if user is not None:
            request.user = user
        return user


# No HTTP Basic: it sent the password, and hashed it (about 300 ms of CPU), on every
# request. Scripts exchange the password once for a bearer token (POST /auth/token),
# where the login lockout and the rate limit apply.
STAFF_AUTH = [ApiTokenAuth(), SessionAuth()]

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
_ERROR_DESCRIPTIONS = {
    400: "Bad Request: malformed JSON, not UTF-8, or a bad Content-Length",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    413: "Payload Too Large (PSY_API_MAX_BODY_BYTES)",
    415: "Unsupported Media Type: the body must be application/json",
    422: "Unprocessable Entity: a field is missing or invalid (`detail` names it)",
}


class ConsoleAPI(NinjaAPI):
    """Declares in the OpenAPI schema the errors the shared machinery answers on every
    operation (the body size middleware, the JSON parser, parameter validation and
    authentication), so the schema tells the truth for routers declared elsewhere too
    (exports) and no endpoint can forget one."""

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                codes = {400, 413}  # RejectOversizedApiBodies, on every /api/ request
                if "requestBody" in operation:
                    codes |= {415, 422}
                if operation.get("parameters"):
                    codes.add(422)
                if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                    codes.add(404)
                if operation.get("security"):
                    codes |= {401, 403}
                responses = operation["responses"]
                for code in sorted(codes):
                    if code not in responses and str(code) not in responses:
                        responses[code] = {"description": _ERROR_DESCRIPTIONS[code],
                                           "content": _ERROR_REF}
        return schema


api = ConsoleAPI(
    title="Psy-LLM console API",
    version="1",
    description=(
        "Public intake and tracking for clients, and every console action for signed-in "
        "staff (a bearer token from POST /auth/token, or a console session "
        "with its CSRF token). Replies reach a client only after a named professional "
        "approves them."
    ),
    parser=StrictJSONParser(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _error(request: HttpRequest, status: int, detail: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, BodyError):
        return _error(request, cause.http_status, cause.detail)
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(NinjaValidationError)
def on_schema_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    # ninja names the body parameter in `loc`; clients only know the field names.
    return _error(request, 422, [
        {"loc": [part for part in e.get("loc", []) if part != "payload"],
         "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors
    ])


@api.exception_handler(ValidationError)
def on_service_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "message_dict"):
        detail = [{"loc": ["body", field], "msg": " ".join(messages), "type": "value_error"}
                  for field, messages in exc.message_dict.items()]
    else:
        detail = [{"loc": ["body"], "msg": " ".join(exc.messages), "type": "value_error"}]
    return _error(request, 422, detail)


@api.exception_handler(ReplyBlocked)
def on_reply_blocked(request: HttpRequest, exc: ReplyBlocked) -> HttpResponse:
    return api.create_response(request, {"detail": exc.detail, "findings": exc.findings},
                               status=422)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "Permission denied.")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "Sign in first: send a bearer token from POST /auth/token.")


@api.exception_handler(TransitionError)
def on_conflict(request: HttpRequest, exc: TransitionError) -> HttpResponse:
    return _error(request, 409, str(exc))


@api.exception_handler(Export.DoesNotExist)
@api.exception_handler(Question.DoesNotExist)
def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 404, "Not found.")


ERRORS = {400: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut}


def _throttled(request: HttpRequest, wait: int, body: dict[str, Any]) -> HttpResponse:
    response = api.create_response(request, body, status=429)
    response["Retry-After"] = str(wait)
    return response
STAFF_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- public: clients ---------------------------------------------------------------

public = Router(tags=["clients"])


@public.post("/questions", response={201: QuestionCreatedOut, 429: ThrottledOut, **ERRORS},
             summary="Submit a question")
def submit_question(request: HttpRequest, payload: QuestionIn) -> Any:
    """Screens the question for risk at once and queues it: for the model's draft, unless
    `human_only` is true (then a counsellor writes the reply without AI). A repeated
    `Idempotency-Key` with the same body returns the first question instead of creating
    another. Too many questions from one client (PSY_INTAKE_RATE, PSY_INTAKE_IP_RATE) get
    429 with `Retry-After` and the crisis resources."""
    wait = intake_throttled(request)
    if wait is not None:
        return _throttled(request, wait, throttled_body())
    submission = do_submit_question(
        payload.text, payload.contact, request.headers.get("Idempotency-Key"),
        human_only=payload.human_only,
    )
    return Reply(201, submission.question)


@public.get("/questions/{tracking_code}", response={200: QuestionStatusOut, 404: ErrorOut},
            summary="Track a question and read its approved reply")
def track_question(request: HttpRequest, tracking_code: str) -> Question:
    return selectors.question_by_tracking_code(tracking_code)


@public.post("/questions/{tracking_code}/withdraw",
             response={200: QuestionStatusOut, 404: ErrorOut, 409: ErrorOut},
             summary="Withdraw a question")
def withdraw_question(request: HttpRequest, tracking_code: str) -> Question:
    return do_withdraw(selectors.question_by_tracking_code(tracking_code))


@public.delete("/questions/{tracking_code}",
               response={200: QuestionStatusOut, 404: ErrorOut, 409: ErrorOut},
               summary="Erase a question: its text, contact and reply are deleted")
def erase_question(request: HttpRequest, tracking_code: str) -> Question:
    """The tracking code is the client's proof, as for withdrawing; 409 if it is already
    erased. The question stays, with status `erased`, so the code still answers."""
    return do_erase_by_client(selectors.question_by_tracking_code(tracking_code))


@public.post("/auth/token",
             response={200: TokenOut, 401: ErrorOut, 429: ErrorOut, **ERRORS},
             summary="Get a bearer token for the console API", tags=["staff"])
def issue_token(request: HttpRequest, payload: TokenIn) -> Any:
    """429 after too many requests from one address (PSY_TOKEN_RATE), or once a username
    is locked out from it after PSY_LOGIN_FAILURE_LIMIT wrong passwords."""
    wait = token_throttled(request)
    if wait is not None:
        # Staff, not clients: no crisis resources, and the same shape as axes' lockout.
        return _throttled(request, wait, {"detail": SIGN_IN_THROTTLED})
    # request= lets axes count the failure and refuse a locked-out caller.
    user = authenticate(request=request, username=payload.username,
                        password=payload.password)
    if user is None or not user.has_perm("questions.claim_question"):
        return Reply(401, {"detail": "Wrong username or password, or not a console user."})
    return {"token": do_issue_api_token(user, TOKEN_HOURS),
            "expires_in_hours": TOKEN_HOURS}


# --- staff: the console ------------------------------------------------------------

console = Router(tags=["console"], auth=STAFF_AUTH)


def _question(question_id: int) -> Question:
    return Question.objects.get(pk=question_id)


def _detail(request: HttpRequest, question_id: int) -> Question:
    check_can(request.user, "questions.view_question")
    return selectors.question_for_staff(question_id)


@console.get("/queue", response={200: list[QueueItemOut], **STAFF_ERRORS},
             summary="List open questions, most urgent first")
def list_queue(request: HttpRequest, status: Status | None = None,
               risk_level: RiskLevel | None = None, topic: str | None = None
               ) -> list[Question]:
    check_can(request.user, "questions.view_question")
    return list(selectors.queue(status=status, risk_level=risk_level, topic=topic)[:500])


@console.post("/take-next", response={200: QuestionDetailOut, 204: None, **STAFF_ERRORS},
              summary="Claim the most urgent unclaimed question")
def take_next(request: HttpRequest) -> Any:
    question = do_take_next(request.user)
    if question is None:
        return Reply(204, None)
    return _detail(request, question.pk)


@console.get("/sla", response={200: SlaOut, **STAFF_ERRORS},
             summary="First-response SLA breaches")
def sla(request: HttpRequest) -> dict[str, Any]:
    check_can(request.user, "questions.view_question")
    return selectors.sla_report()


@console.post("/questions/{question_id}/risk", response={200: QuestionDetailOut,
              **STAFF_ERRORS}, summary="Override the screened risk level, with a reason")
def override_risk(request: HttpRequest, question_id: int, payload: RiskOverrideIn) -> Any:
    do_override_risk(_question(question_id), request.user, payload.risk_level.value,
                     payload.reason)
    return _detail(request, question_id)


@console.get("/questions/{question_id}", response={200: QuestionDetailOut, **STAFF_ERRORS},
             summary="A question with its drafts, sources and reviews")
def question_detail(request: HttpRequest, question_id: int) -> Question:
    return _detail(request, question_id)


@console.post("/questions/{question_id}/claim",
              response={200: QuestionDetailOut, **STAFF_ERRORS}, summary="Claim for review")
def claim(request: HttpRequest, question_id: int) -> Question:
    do_claim(_question(question_id), request.user)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/release",
              response={200: QuestionDetailOut, **STAFF_ERRORS}, summary="Release a claim")
def release(request: HttpRequest, question_id: int) -> Question:
    do_release(_question(question_id), request.user)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/release-claim",
              response={200: QuestionDetailOut, **STAFF_ERRORS},
              summary="Take back anyone's claim, with a reason (supervisors)")
def release_claim(request: HttpRequest, question_id: int, payload: ReasonIn) -> Question:
    do_release_claim(_question(question_id), request.user, payload.reason)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/erase",
              response={200: QuestionDetailOut, **STAFF_ERRORS},
              summary="Erase a question on the client's request, with a reason (supervisors)")
def erase_on_request(request: HttpRequest, question_id: int, payload: ReasonIn) -> Question:
    do_erase_on_request(_question(question_id), request.user, payload.reason)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/reassign",
              response={200: QuestionDetailOut, **STAFF_ERRORS},
              summary="Give a claim to another counsellor, with a reason (supervisors)")
def reassign(request: HttpRequest, question_id: int, payload: ReassignIn) -> Question:
    """409 if the question is not claimed, or the counsellor already holds as many claims
    as PSY_MAX_CLAIMS_PER_COUNSELLOR allows."""
    do_reassign(_question(question_id), request.user, payload.to, payload.reason)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/edits", response={201: EditOut, **STAFF_ERRORS},
              summary="Save an edit of the reply")
def save_edit(request: HttpRequest, question_id: int, payload: TextIn) -> Any:
    edit = do_save_edit(_question(question_id), request.user, payload.text)
    return Reply(201, edit)


@console.post("/questions/{question_id}/write-without-draft",
              response={200: QuestionDetailOut, **STAFF_ERRORS},
              summary="Claim and write the reply yourself, without waiting for the model")
def write_without_draft(request: HttpRequest, question_id: int) -> Question:
    do_write_without_draft(_question(question_id), request.user)
    return _detail(request, question_id)


@console.post("/questions/{question_id}/approve",
              response={200: ReviewOut, **{**STAFF_ERRORS, 422: BlockedOut | ErrorOut}},
              summary="Approve the reply and deliver it to the client")
def approve(request: HttpRequest, question_id: int, payload: ApproveIn | None = None) -> Any:
    """The final text is checked first. Blocking findings (doses, medication advice,
    diagnosis, unlisted numbers or links, missing crisis resources on a risky question)
    answer 422 with `detail` and `findings`, unless `override_reason` says why it must go
    as it is."""
    text = payload.text if payload is not None else None
    override = payload.override_reason if payload is not None else None
    return (do_approve(_question(question_id), request.user, text,
                                           override))


@console.post("/questions/{question_id}/reject", response={200: ReviewOut, **STAFF_ERRORS},
              summary="Close without a reply")
def reject(request: HttpRequest, question_id: int, payload: ReasonIn) -> Any:
    return (do_reject(_question(question_id), request.user, payload.reason))


@console.post("/questions/{question_id}/escalate", response={200: ReviewOut, **STAFF_ERRORS},
              summary="Escalate to a supervisor")
def escalate(request: HttpRequest, question_id: int, payload: ReasonIn) -> Any:
    return (do_escalate(_question(question_id), request.user,
                                            payload.reason))


@console.post("/questions/{question_id}/redraft", response={202: ErrorOut, **STAFF_ERRORS},
              summary="Ask for a new draft, optionally with an instruction and candidates")
def redraft(request: HttpRequest, question_id: int, payload: RedraftIn | None = None) -> Any:
    payload = payload or RedraftIn()
    do_request_redraft(_question(question_id), request.user, payload.instruction,
                                payload.candidates)
    return Reply(202, {"detail": "A new draft has been queued."})


@console.post("/questions/{question_id}/cancel-draft",
              response={202: ErrorOut, **STAFF_ERRORS}, summary="Stop the draft in progress")
def cancel_draft(request: HttpRequest, question_id: int) -> Any:
    do_cancel_draft(_question(question_id), request.user)
    return Reply(202, {"detail": "The draft in progress will stop within a second."})


@console.get("/questions/{question_id}/audit", response={200: list[AuditEventOut],
             **STAFF_ERRORS}, summary="The question's audit trail (supervisors)")
def audit_trail(request: HttpRequest, question_id: int) -> list[AuditEvent]:
    check_can(request.user, "questions.audit_reply")
    return list(selectors.audit_trail(_question(question_id)))


@console.get("/reviews", response={200: list[ReviewOut], **STAFF_ERRORS},
             summary="Approved replies for the audit (supervisors), as on the audit page")
def approved_reviews(request: HttpRequest, overridden: bool | None = None
                     ) -> list[Review]:
    """Unaudited first; `overridden=true` lists only replies approved over blocking
    guardrail findings."""
    check_can(request.user, "questions.audit_reply")
    return list(selectors.approved_reviews(overridden=overridden)[:200])


@console.post("/reviews/{review_id}/annotations",
              response={201: AnnotationOut, **STAFF_ERRORS}, summary="Annotate a review")
def annotate(request: HttpRequest, review_id: int, payload: AnnotationIn) -> Any:
    review = get_object_or_404(Review, pk=review_id)
    annotation = do_annotate(review, request.user, **payload.dict())
    return Reply(201, annotation)


@console.post("/reviews/{review_id}/audit", response={200: ReviewOut, **STAFF_ERRORS},
              summary="Record a supervisor's audit of an approved reply")
def audit_review(request: HttpRequest, review_id: int, payload: NoteIn) -> Any:
    review = get_object_or_404(Review, pk=review_id)
    return (do_audit(review, request.user, payload.note))


@console.get("/reviews/{review_id}/annotations",
             response={200: list[AnnotationOut], **STAFF_ERRORS},
             summary="A review's current annotations (none of others' while you are its "
                     "blind second annotator)")
def list_annotations(request: HttpRequest, review_id: int) -> list[Any]:
    check_can(request.user, "questions.view_question")
    review = get_object_or_404(Review, pk=review_id)
    return selectors.visible_annotations(review, request.user)


@console.get("/annotation-assignments", response={200: list[AnnotationAssignmentOut],
             **STAFF_ERRORS}, summary="Annotations assigned to me")
def my_assignments(request: HttpRequest, open_only: bool = True) -> list[Any]:
    check_can(request.user, "questions.view_question")
    return list(selectors.annotation_assignments(request.user, open_only=open_only)[:500])


@console.post("/annotation-assignments", response={201: SampleOut, **STAFF_ERRORS},
              summary="Send a sample of approved replies for a blind second annotation "
                      "(supervisors)")
def sample_second_annotations(request: HttpRequest, payload: SampleIn) -> Any:
    check_can(request.user, "questions.audit_reply")
    users = {u.get_username(): u for u in selectors.annotators()
             .filter(username__in=payload.annotators)}
    missing = [name for name in payload.annotators if name not in users]
    if missing:
        raise ValidationError({"annotators": f"Not console users: {', '.join(missing)}."})
    sample = do_sample_second_annotations(
        request.user, annotators=[users[name] for name in payload.annotators],
        share=payload.share, risk_levels=payload.risk_levels, seed=payload.seed)
    return Reply(201, sample)


@console.get("/agreement", response={200: AgreementOut, **STAFF_ERRORS},
             summary="Krippendorff's alpha per rubric dimension (supervisors)")
def agreement(request: HttpRequest) -> dict[str, Any]:
    check_can(request.user, "questions.audit_reply")
    return selectors.agreement_summary()


@console.get("/disagreements", response={200: list[DisagreementOut], **STAFF_ERRORS},
             summary="Disagreements between annotators, for adjudication (supervisors)")
def list_disagreements(request: HttpRequest, open_only: bool = True) -> list[Any]:
    check_can(request.user, "questions.audit_reply")
    return selectors.disagreements(open_only=open_only)


@console.post("/reviews/{review_id}/adjudications",
              response={201: AdjudicationOut, **STAFF_ERRORS},
              summary="Rule on a dimension annotators disagree on (supervisors)")
def adjudicate(request: HttpRequest, review_id: int, payload: AdjudicationIn) -> Any:
    review = get_object_or_404(Review, pk=review_id)
    return Reply(201, do_adjudicate(review, request.user, payload.dimension, payload.value,
                                    payload.reason))


api.add_router("/", public)
api.add_router("/console", console)
api.add_router("/console/exports", exports_router, auth=STAFF_AUTH)
