"""The staff dashboard: the page, and each of its charts as its own SVG response.

For supervisors (`questions.audit_reply`) and for staff who export annotated pairs
(`exports.export_annotations`, or the older `questions.export_annotations`); a counsellor
without either gets 403. `?days=` chooses the window: 7, 30 or 90 (the default 30);
anything else is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from psyconsole.questions import dashboard
from psyconsole.questions import dashboard_charts as charts

DASHBOARD_PERMISSIONS = ("questions.audit_reply", "exports.export_annotations",
                         "questions.export_annotations")


def can_see_dashboard(user: Any) -> bool:
    return any(user.has_perm(code) for code in DASHBOARD_PERMISSIONS)


def dashboard_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the login page), with one of DASHBOARD_PERMISSIONS (else 403)."""
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_see_dashboard(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def _window(request: HttpRequest) -> dashboard.Window:
    return dashboard.window(dashboard.check_window(request.GET.get("days")))


def _chart(name: str, win: dashboard.Window) -> tuple[bytes, str]:
    """The SVG and its alt text for one chart."""
    if name == "queue-depth":
        depth = dashboard.queue_depth(win)
        return charts.queue_depth_svg(depth, win), charts.alt_queue_depth(depth, win)
    if name == "first-response":
        levels = dashboard.first_response(win)
        return charts.first_response_svg(levels, win), charts.alt_first_response(levels, win)
    if name == "draft-edits":
        edits = dashboard.draft_edits(win)
        return charts.draft_edits_svg(edits, win), charts.alt_draft_edits(edits, win)
    if name == "rubric":
        scores = dashboard.rubric_scores(win)
        return charts.rubric_svg(scores, win), charts.alt_rubric(scores, win)
    if name == "agreement":
        summary = dashboard.agreement()
        return charts.agreement_svg(summary), charts.alt_agreement(summary)
    raise Http404("No such chart.")


CHARTS = ("queue-depth", "first-response", "draft-edits", "rubric", "agreement")


@dashboard_required
@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    try:
        win = _window(request)
    except dashboard.BadWindow as exc:
        return HttpResponseBadRequest(str(exc))
    depth = dashboard.queue_depth(win)
    levels = dashboard.first_response(win)
    edits = dashboard.draft_edits(win)
    scores = dashboard.rubric_scores(win)
    summary = dashboard.agreement()
    return render(request, "console/dashboard.html", {
        "win": win, "windows": dashboard.WINDOW_DAYS,
        "depth": depth, "depth_alt": charts.alt_queue_depth(depth, win),
        "levels": [_response_row(level) for level in levels],
        "levels_alt": charts.alt_first_response(levels, win),
        "any_response": any(level.answered for level in levels),
        "edits": edits, "edit_rows": [_edit_row(v) for v in edits.versions],
        "edits_alt": charts.alt_draft_edits(edits, win), "edit_kinds": dashboard.EDIT_KINDS,
        "scores": scores, "scores_alt": charts.alt_rubric(scores, win),
        "score_rows": [{"start": row["start"], "n": row["n"],
                        "means": [row[dim.name] for dim in dashboard.RUBRIC_DIMENSIONS]}
                       for row in scores.rows],
        "dimensions": dashboard.RUBRIC_DIMENSIONS,
        "agreement": summary, "agreement_rows": list(summary["dimensions"].values()),
        "agreement_alt": charts.alt_agreement(summary),
    })


def _response_row(level: dashboard.ResponseLevel) -> dict[str, Any]:
    return {"level": level.level, "label": level.label,
            "sla": charts.minutes_text(level.sla_minutes), "answered": level.answered,
            "median": charts.minutes_text(level.median), "p90": charts.minutes_text(level.p90),
            "within": charts.percent_text(level.within_sla_share),
            "waiting": level.waiting, "waiting_past_sla": level.waiting_past_sla}


def _edit_row(version: dashboard.VersionEdits) -> dict[str, Any]:
    counts, fractions = version.counts, version.fractions
    return {"model_version": version.model_version, "n": version.n,
            "kinds": [(counts[k], charts.percent_text(fractions[k]))
                      for k, _ in dashboard.EDIT_KINDS],
            "median": charts.percent_text(version.median_share)}


# The SVG is a document of its own when opened directly, and matplotlib styles its
# elements with `style` attributes and a <style> block, which the site's policy (no
# 'unsafe-inline') would refuse there. These responses hold no client text (counts,
# times, shares, model version names and fixed labels) and no script, so they alone
# allow inline style, and refuse every other kind of content outright. Shown through
# <img> on the page, an SVG never runs script whatever its policy says.
@csp_replace({"default-src": ["'none'"], "style-src": ["'unsafe-inline'"],
              "script-src": ["'none'"], "img-src": None, "connect-src": None,
              "font-src": None})
@dashboard_required
@require_GET
def dashboard_chart(request: HttpRequest, chart: str) -> HttpResponse:
    if chart not in CHARTS:
        raise Http404("No such chart.")
    try:
        win = _window(request)
    except dashboard.BadWindow as exc:
        return HttpResponseBadRequest(str(exc))
    svg, _alt = _chart(chart, win)
    return HttpResponse(svg, content_type="image/svg+xml")
