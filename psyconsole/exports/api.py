"""The export endpoints of the console API (mounted at /api/v1/console/exports with the
console's authentication). The same service as the command and the staff page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja import Status as Reply
from pydantic import StrictBool, StrictStr

from psyconsole.exports import service
from psyconsole.exports.models import Export
from psyconsole.exports.selectors import recent_exports
from psyconsole.questions.services.checks import check_can


class ExportIn(Schema):
    formats: list[StrictStr] = Field(default_factory=lambda: ["sft", "dpo", "kto"])
    since: StrictStr | None = Field(None, description="YYYY-MM-DD")
    until: StrictStr | None = Field(None, description="YYYY-MM-DD")
    risk_levels: list[StrictStr] = Field(default_factory=list, description="Default: none, "
                                         "low and moderate.")
    include_crisis: StrictBool = False
    model_version: StrictStr | None = None
    min_ratings: dict[str, int] = Field(default_factory=dict,
                                        description='For example {"overall": 4}.')
    audited_only: StrictBool = False


class ExportOut(Schema):
    id: int
    state: str = Field(..., description="queued, running, done or failed")
    filters: dict[str, Any]
    processed: int
    total: int
    manifest: dict[str, Any]
    error: str
    created_at: datetime
    finished_at: datetime | None


router = Router(tags=["exports"])


@router.post("", response={202: ExportOut}, summary="Start an export of annotated pairs")
def start_export(request: HttpRequest, payload: ExportIn) -> Any:
    """Runs in the worker; poll the export until its state is done."""
    filters = service.check_export_filters(payload.dict())
    return Reply(202, service.do_request_export(request.user, filters))


@router.get("", response=list[ExportOut], summary="Recent exports")
def list_exports(request: HttpRequest) -> list[Export]:
    check_can(request.user, service.PERMISSION)
    return list(recent_exports())


@router.get("/{export_id}", response=ExportOut, summary="An export, with its manifest")
def get_export(request: HttpRequest, export_id: int) -> Export:
    check_can(request.user, service.PERMISSION)
    return get_object_or_404(Export, pk=export_id)


@router.get("/{export_id}/files/{fmt}/{split}.jsonl", summary="Download one file (JSON Lines)",
            response={200: None})
def download(request: HttpRequest, export_id: int, fmt: str, split: str) -> FileResponse:
    path = service.do_open_export_file(request.user,
                                       get_object_or_404(Export, pk=export_id), fmt, split)
    return FileResponse(path.open("rb"), as_attachment=True,
                        filename=f"export-{export_id}-{fmt}-{split}.jsonl",
                        content_type="application/jsonl")
