"""The staff page for the loop: start a retrain, follow it, see its outcome (the figures
of the new version next to the default's) and the quality of every version evaluated.
Guarded by `exports.export_annotations`, like the command. The plot is an inline SVG
drawn here, with the same figures as a table beside it; no script is needed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from inference.training import METHODS
from psyconsole.exports import retrain
from psyconsole.exports.models import RetrainRun
from psyconsole.screening.levels import LEVELS

EVAL_DIR = Path(settings.BASE_DIR) / "fixtures" / "eval"
CHART = {"width": 720, "height": 300, "left": 120, "right": 24, "top": 36, "bottom": 96}
SERIES = (("rouge_l", "ROUGE-L", "#1f5fa8", ""),
          ("citation_validity", "Citation validity", "#b35900", "6 4"))


def eval_sets() -> dict[str, Path]:
    """The held-out SFT sets a person may choose on the page (the command takes any)."""
    return {path.name: path for path in sorted(EVAL_DIR.glob("sft_*.jsonl"))}


def _number(value: str, name: str, kind: type) -> Any:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise ValidationError({name: f"{name} must be a number."}) from exc


def _options_from(data: Any) -> retrain.RetrainOptions:
    sets = eval_sets()
    chosen = data.get("eval_set") or retrain.DEFAULT_SET.name
    if chosen not in sets:
        raise ValidationError({"eval_set": "Choose one of the held-out sets listed."})
    return retrain.check_retrain_options({
        "method": data.get("method") or retrain.DEFAULT_METHOD,
        "hyperparameters": {"epochs": _number(data.get("epochs"), "epochs", float),
                            "max_steps": _number(data.get("max_steps"), "max_steps", int)},
        "eval_set": str(sets[chosen]),
        "eval_limit": _number(data.get("eval_limit"), "eval_limit", int) or 0,
        "promote": data.get("promote") == "on",
        "filters": {
            "since": data.get("since"), "until": data.get("until"),
            "risk_levels": data.getlist("risk_levels"),
            "include_crisis": data.get("include_crisis") == "on",
            "model_version": data.get("model_version", "").strip() or None,
            "min_ratings": ({"overall": int(data["min_overall"])}
                            if data.get("min_overall", "").isdigit() else {}),
            "audited_only": data.get("audited_only") == "on"}})


def _short(name: str) -> str:
    """What tells versions apart: the last part of a name (`dpo-r3-202612021015`)."""
    tail = name.rsplit("+", 1)[-1]
    return tail if len(tail) <= 24 else tail[:23] + "…"


def quality_chart(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Coordinates for the SVG line chart of ROUGE-L and citation validity per version."""
    if not history:
        return None
    c = CHART
    plot_w = c["width"] - c["left"] - c["right"]
    plot_h = c["height"] - c["top"] - c["bottom"]
    values = [row[key] for row in history for key, *_ in SERIES
              if isinstance(row.get(key), int | float)]
    highest = max(values, default=0.0)
    step = 0.05 if highest <= 0.3 else 0.1 if highest <= 0.6 else 0.2
    ticks_n = max(1, math.ceil(round(highest / step, 6)))
    top = step * ticks_n

    def x(i: int) -> float:
        return round(c["left"] + (plot_w / 2 if len(history) == 1
                                  else plot_w * i / (len(history) - 1)), 1)

    def y(v: float) -> float:
        return round(c["top"] + plot_h * (1 - min(v, top) / top), 1)

    series = []
    for number, (key, label, colour, dash) in enumerate(SERIES):
        dots = [{"x": x(i), "y": y(row[key]), "title": f"{row['version']}: {label} "
                                                      f"{row[key]}"}
                for i, row in enumerate(history) if isinstance(row.get(key), int | float)]
        series.append({"label": label, "colour": colour, "dash": dash, "dots": dots,
                       "legend_x": c["left"] + 170 * number,
                       "points": " ".join(f"{d['x']},{d['y']}" for d in dots)})
    ticks = [{"y": y(step * k), "label": f"{step * k:.2f}"} for k in range(ticks_n + 1)]
    labels = [{"x": x(i), "y": c["height"] - c["bottom"] + 14,
               "text": _short(row["version"]), "title": row["version"],
               "is_default": row["is_default"]} for i, row in enumerate(history)]
    return {**c, "plot_right": c["width"] - c["right"],
            "plot_bottom": c["height"] - c["bottom"], "series": series, "ticks": ticks,
            "labels": labels, "legend_y": 14}


def _run_context(run: RetrainRun | None) -> dict[str, Any]:
    if run is None:
        return {"run": None}
    return {"run": run, "rows": retrain.side_by_side(run),
            "evaluation": run.figures.get("evaluation") or {}}


@login_required
@permission_required(retrain.PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def retrain_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            options = _options_from(request.POST)
            run = retrain.do_request_retrain(request.user, options)
        except ValidationError as exc:
            messages.error(request, "Not started: " + " ".join(exc.messages))
            return redirect("console:retrain")
        messages.success(request, f"Retrain #{run.pk} started; this page follows it.")
        return redirect("console:retrain_run", run_id=run.pk)
    runs = list(RetrainRun.objects.select_related("new_version")[:10])
    latest = runs[0] if runs else None
    eval_name = ((latest.figures.get("evaluation") or {}).get("eval_set") if latest else None) \
        or retrain.DEFAULT_SET.name
    history = retrain.quality_history(eval_name)
    finished = next((r for r in runs if r.state == RetrainRun.State.DONE), None)
    earlier = _run_context(finished if finished is not latest else None)
    return render(request, "console/retrain.html", {
        **_run_context(latest), "runs": runs, "finished": earlier["run"],
        "finished_rows": earlier.get("rows"), "finished_evaluation": earlier.get("evaluation"),
        "methods": METHODS,
        "default_method": retrain.DEFAULT_METHOD, "eval_sets": list(eval_sets()),
        "default_eval_set": retrain.DEFAULT_SET.name, "levels": LEVELS,
        "default_levels": retrain.service.DEFAULT_RISK_LEVELS, "history": history,
        "chart": quality_chart(history), "eval_name": eval_name,
    })


@login_required
@permission_required(retrain.PERMISSION, raise_exception=True)
@require_GET
def retrain_run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(RetrainRun.objects.select_related("new_version", "export"),
                            pk=run_id)
    template = ("console/_retrain_status.html" if request.headers.get("HX-Request")
                else "console/retrain_run.html")
    return render(request, template, _run_context(run))
