"""The staff page for exports: choose filters, start one, follow it, download its files.
Guarded by `exports.export_annotations`, like the command and the API."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from psyconsole.exports import service
from psyconsole.exports.formats import FORMATS
from psyconsole.exports.models import Export
from psyconsole.exports.selectors import recent_exports
from psyconsole.screening.levels import LEVELS


@login_required
@permission_required(service.PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def exports_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = request.POST
        try:
            filters = service.check_export_filters({
                "formats": data.getlist("formats"), "since": data.get("since"),
                "until": data.get("until"), "risk_levels": data.getlist("risk_levels"),
                "include_crisis": data.get("include_crisis") == "on",
                "model_version": data.get("model_version", "").strip() or None,
                "min_ratings": ({"overall": int(data["min_overall"])}
                                if data.get("min_overall", "").isdigit() else {}),
                "audited_only": data.get("audited_only") == "on"})
        except ValidationError as exc:
            messages.error(request, "Not started: " + " ".join(exc.messages))
            return redirect("console:exports")
        export = service.do_request_export(request.user, filters)
        messages.success(request, f"Export #{export.pk} started; this page follows it.")
        return redirect("console:export", export_id=export.pk)
    return render(request, "console/exports.html", {
        "exports": recent_exports(), "formats": FORMATS, "levels": LEVELS,
        "default_levels": service.DEFAULT_RISK_LEVELS,
    })


@login_required
@permission_required(service.PERMISSION, raise_exception=True)
@require_GET
def export_page(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(Export, pk=export_id)
    card_text = ""
    if export.state == Export.State.DONE:
        readme = Path(export.directory) / "README.md"
        card_text = readme.read_text() if readme.exists() else ""
    template = ("console/_export_status.html" if request.headers.get("HX-Request")
                else "console/export.html")
    return render(request, template, {"export": export, "card": card_text})


@login_required
@permission_required(service.PERMISSION, raise_exception=True)
@require_GET
def export_file(request: HttpRequest, export_id: int, fmt: str, split: str
                ) -> FileResponse:
    export = get_object_or_404(Export, pk=export_id)
    try:
        path = service.do_open_export_file(request.user, export, fmt, split)
    except Export.DoesNotExist as exc:
        raise Http404 from exc
    return FileResponse(path.open("rb"), as_attachment=True,
                        filename=f"export-{export.pk}-{fmt}-{split}.jsonl",
                        content_type="application/jsonl")
