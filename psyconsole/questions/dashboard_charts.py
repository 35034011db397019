"""The dashboard's charts, drawn server-side by matplotlib as SVG (no script in the page).

matplotlib is imported only when a chart is drawn, so the rest of the console never
pays for it. Its configuration and font cache live in `VAR_DIR/matplotlib`
(MPLCONFIGDIR), which the server can write; it fetches nothing over the network. The SVG
is deterministic: a fixed `svg.hashsalt` for its element ids and no date in its metadata,
so the same figures give the same bytes. Text stays text (`svg.fonttype: none`): smaller,
and what the chart says can be searched and tested.

Each chart has an `alt_*` sentence for the <img> that shows it; the page puts the numbers
in a table beneath it too.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from psyconsole.questions import dashboard as d

# Okabe-Ito colours (told apart with colour-blindness), darkened where needed so that
# each has at least 3:1 against white, the contrast WCAG asks of graphics.
BLUE, VERMILLION, GREEN, PURPLE, SKY, ORANGE, GREY = (
    "#0072B2", "#C34A00", "#00785A", "#A8457F", "#2B7BB0", "#A66D00", "#5F6B6D")
MARKERS = "osD^v<>ph"
SLA_COLOUR = "#8B0000"
RC = {
    "svg.hashsalt": "psyconsole-dashboard",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.grid": True,
    "grid.color": "#dde1e7",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
}

MARGINS = {"left": 0.08, "right": 0.98, "bottom": 0.16, "top": 0.88}


def _matplotlib() -> Any:
    """matplotlib, configured to write only under VAR_DIR and to draw without a display."""
    config_dir = Path(settings.VAR_DIR) / "matplotlib"
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLCONFIGDIR", str(config_dir))
    import matplotlib

    matplotlib.use("Agg")  # no GUI toolkit; the SVG canvas is chosen per figure
    return matplotlib


def render(draw: Callable[[Any], None], *, size: tuple[float, float] = (8.0, 3.2),
           margins: dict[str, float] | None = None) -> bytes:
    """Calls `draw(figure)` on a new figure and returns the figure as SVG. The margins
    are fixed fractions of the figure: an automatic layout draws everything twice, which
    doubles the time a chart takes."""
    matplotlib = _matplotlib()
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        figure = Figure(figsize=size)
        figure.subplots_adjust(**{**MARGINS, **(margins or {})})
        FigureCanvasSVG(figure)
        draw(figure)
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None,
                                                    "Creator": "psyconsole dashboard"})
    return out.getvalue()


def _empty(figure: Any, message: str) -> None:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color=GREY,
              transform=axes.transAxes)


def minutes_text(value: float | None) -> str:
    if value is None:
        return "\u2013"
    if value < 1:
        return f"{value * 60:.0f} s"
    if value < 120:
        return f"{value:.0f} min" if value >= 10 or value == int(value) else f"{value:.1f} min"
    hours = value / 60
    return f"{hours:.0f} h" if hours == int(hours) else f"{hours:.1f} h"


def percent_text(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.0%}"


# --- queue depth -------------------------------------------------------------------------

def queue_depth_svg(series: d.QueueDepth, win: d.Window) -> bytes:
    def draw(figure: Any) -> None:
        if series.is_empty:
            _empty(figure, f"No questions in the last {win.days} days")
            return
        axes = figure.add_subplot()
        times = [t for t, _ in series.samples]
        counts = [n for _, n in series.samples]
        axes.step(times, counts, where="post", color=BLUE, linewidth=1.6,
                  label="Open questions")
        axes.fill_between(times, counts, step="post", color=BLUE, alpha=0.12)
        axes.set_ylim(bottom=0, top=max(max(counts), 1) * 1.15)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylabel("Open questions")
        axes.set_title(f"Open questions, last {win.days} days "
                       f"(sampled every {d.SAMPLE_HOURS[win.days]} h)", loc="left")
        _date_axis(axes)

    return render(draw)


def _date_axis(axes: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def alt_queue_depth(series: d.QueueDepth, win: d.Window) -> str:
    if series.is_empty:
        return f"Queue depth chart: no questions in the last {win.days} days."
    peak = f" at {series.peak_at:%d %b %H:%M}" if series.peak_at else ""
    return (f"Step chart of open questions over the last {win.days} days: "
            f"{series.open_now} open now, at most {series.peak}{peak}; "
            f"{series.arrived} arrived and {series.closed} closed in the window.")


# --- first response ----------------------------------------------------------------------

def first_response_svg(levels: list[d.ResponseLevel], win: d.Window) -> bytes:
    def draw(figure: Any) -> None:
        if not any(level.answered for level in levels):
            _empty(figure, f"No first responses in the last {win.days} days")
            return
        # One panel per level, each on its own scale: the SLAs run from 5 minutes to a
        # day, and one shared axis would flatten the urgent levels to nothing.
        panels = figure.subplots(1, len(levels))
        for axes, level in zip(panels, levels, strict=True):
            axes.set_title(f"{level.label}\n{percent_text(level.within_sla_share)} within SLA "
                           f"(n={level.answered})" if level.answered
                           else f"{level.label}\nno responses", fontsize=9)
            axes.set_xticks([0, 1], ["median", "p90"])
            if not level.answered:
                axes.text(0.5, 0.5, f"SLA {minutes_text(level.sla_minutes)}", ha="center",
                          va="center", color=SLA_COLOUR, fontsize=8, transform=axes.transAxes)
                axes.set_xticks([])
                axes.set_yticks([])
                axes.grid(False)
                continue
            values = [level.median or 0.0, level.p90 or 0.0]
            colours = [BLUE if v <= level.sla_minutes else VERMILLION for v in values]
            bars = axes.bar([0, 1], values, color=colours, width=0.6)
            # The value over each bar: a response in seconds is no visible bar against
            # an SLA of hours.
            axes.bar_label(bars, [minutes_text(v) for v in values], fontsize=8, padding=2)
            axes.axhline(level.sla_minutes, color=SLA_COLOUR, linestyle="--", linewidth=1.2)
            axes.text(1.45, level.sla_minutes, f"SLA {minutes_text(level.sla_minutes)}",
                      color=SLA_COLOUR, fontsize=8, ha="right", va="bottom")
            axes.set_xlim(-0.6, 1.6)
            axes.set_ylim(0, max(*values, level.sla_minutes) * 1.25)
        panels[0].set_ylabel("Minutes to first claim")

    return render(draw, size=(9.0, 3.2), margins={"left": 0.07, "right": 0.99, "top": 0.8,
                                                  "bottom": 0.1, "wspace": 0.45})


def alt_first_response(levels: list[d.ResponseLevel], win: d.Window) -> str:
    answered = [level for level in levels if level.answered]
    if not answered:
        return f"First-response chart: no first responses in the last {win.days} days."
    parts = [f"{level.label}: median {minutes_text(level.median)}, p90 {minutes_text(level.p90)}, "
             f"{percent_text(level.within_sla_share)} within the {minutes_text(level.sla_minutes)} "
             "SLA" for level in answered]
    return ("Bar charts of the minutes to a first claim per risk level, with each level's "
            "SLA as a dashed line. " + "; ".join(parts) + ".")


# --- draft edits -------------------------------------------------------------------------

EDIT_COLOURS = {"as_is": GREEN, "light": SKY, "rewritten": VERMILLION}


def draft_edits_svg(series: d.DraftEdits, win: d.Window) -> bytes:
    def draw(figure: Any) -> None:
        if series.is_empty:
            _empty(figure, f"No approved replies based on a draft in the last {win.days} days")
            return
        axes = figure.add_subplot()
        names = [v.model_version for v in series.versions]
        left = [0.0] * len(names)
        for kind, label in d.EDIT_KINDS:
            shares = [v.fractions[kind] for v in series.versions]
            axes.barh(names, shares, left=left, color=EDIT_COLOURS[kind], label=label,
                      height=0.6)
            for i, share in enumerate(shares):
                if share >= 0.08:
                    axes.text(left[i] + share / 2, i, f"{share:.0%}", ha="center",
                              va="center", color="white", fontsize=8, fontweight="bold")
            left = [a + b for a, b in zip(left, shares, strict=True)]
        axes.set_yticks(range(len(names)),
                        [f"{_wrapped(v.model_version)}\n(n={v.n})" for v in series.versions])
        axes.set_xlim(0, 1)
        axes.xaxis.set_major_formatter("{x:.0%}")
        axes.invert_yaxis()
        axes.grid(axis="y", visible=False)
        axes.set_xlabel(f"Share of approved replies (rewritten: at least "
                        f"{series.threshold:.0%} of the words changed)")
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)

    height = 1.6 + 0.6 * max(1, len(series.versions))
    return render(draw, size=(8.0, height),
                  margins={"left": 0.3, "right": 0.97, "top": 1 - 0.55 / height,
                           "bottom": 0.75 / height})


def _wrapped(name: str, width: int = 30) -> str:
    """A model version's name on lines of at most `width` characters, broken after a
    `+` (base+adapter) where there is one, so the left margin can hold it."""
    parts = name.replace("+", "+\n").split("\n")
    return "\n".join(part if len(part) <= width else part[:width - 1] + "\u2026"
                     for part in parts)


def alt_draft_edits(series: d.DraftEdits, win: d.Window) -> str:
    if series.is_empty:
        return (f"Draft edits chart: no approved replies based on a draft in the last "
                f"{win.days} days.")
    parts = []
    for v in series.versions:
        f = v.fractions
        parts.append(f"{v.model_version} ({v.n} replies): {f['as_is']:.0%} used as they "
                     f"were, {f['light']:.0%} lightly edited, {f['rewritten']:.0%} rewritten")
    return "Stacked bars of how drafts were used, per model version. " + "; ".join(parts) + "."


# --- rubric ------------------------------------------------------------------------------

RUBRIC_COLOURS = (BLUE, VERMILLION, GREEN, PURPLE, SKY, ORANGE, GREY, "#1D2430", "#6A3D9A")


def rubric_svg(series: d.RubricSeries, win: d.Window) -> bytes:
    def draw(figure: Any) -> None:
        if series.is_empty:
            _empty(figure, f"No annotated replies in the last {win.days} days")
            return
        axes = figure.add_subplot()
        starts = [row["start"] for row in series.rows]
        for i, dimension in enumerate(d.RUBRIC_DIMENSIONS):
            values = [row[dimension.name] for row in series.rows]
            points = [(s, v) for s, v in zip(starts, values, strict=True) if v is not None]
            if not points:
                continue
            harm = dimension.name == "toxicity_or_harm"
            axes.plot([s for s, _ in points], [v for _, v in points],
                      marker=MARKERS[i % len(MARKERS)], color=RUBRIC_COLOURS[i],
                      linestyle=":" if harm else "-", linewidth=1.4, markersize=4,
                      label=dimension.label + (" (lower is better)" if harm else ""))
        axes.set_ylim(1, 5.2)
        axes.set_yticks([1, 2, 3, 4, 5])
        axes.set_ylabel("Mean rating (1 to 5)")
        axes.set_title(f"Mean rubric ratings per {series.bucket}, last {win.days} days",
                       loc="left")
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                    fontsize=8)
        if len(starts) == 1:
            from datetime import timedelta

            axes.set_xlim(starts[0] - timedelta(days=3), starts[0] + timedelta(days=3))
        _date_axis(axes)

    return render(draw, size=(9.0, 3.4), margins={"left": 0.07, "right": 0.72})


def alt_rubric(series: d.RubricSeries, win: d.Window) -> str:
    if series.is_empty:
        return f"Rubric chart: no annotated replies in the last {win.days} days."
    latest = series.rows[-1]
    means = ", ".join(f"{dim.label.lower()} {latest[dim.name]:.1f}"
                      for dim in d.RUBRIC_DIMENSIONS if latest[dim.name] is not None)
    return (f"Line chart of the mean rubric ratings per {series.bucket} over the last "
            f"{win.days} days, {len(series.rows)} {series.bucket}(s); the latest, from "
            f"{latest['n']} annotation(s): {means or 'no ratings'}.")


# --- agreement ---------------------------------------------------------------------------

# Krippendorff (2004): alpha >= 0.8 to rely on the data, >= 0.667 for tentative
# conclusions.
ALPHA_RELIABLE, ALPHA_TENTATIVE = 0.8, 0.667


def agreement_svg(summary: dict[str, Any]) -> bytes:
    def draw(figure: Any) -> None:
        if not summary["n_doubly_annotated"]:
            _empty(figure, "No double annotations yet")
            return
        axes = figure.add_subplot()
        rows = list(summary["dimensions"].values())
        labels = [row["label"] for row in rows]
        alphas = [row["alpha"] for row in rows]
        shown = [a if a is not None else 0.0 for a in alphas]
        colours = [GREY if a is None else GREEN if a >= ALPHA_RELIABLE
                   else ORANGE if a >= ALPHA_TENTATIVE else VERMILLION for a in alphas]
        axes.barh(labels, shown, color=colours, height=0.6)
        for i, (alpha, row) in enumerate(zip(alphas, rows, strict=True)):
            text = (f"{alpha:.2f} (n={row['n_items']})" if alpha is not None
                    else f"undefined (n={row['n_items']})")
            axes.text(max(shown[i], 0) + 0.02, i, text, va="center", fontsize=8)
        for x, label, align in ((ALPHA_TENTATIVE, "tentative 0.667 ", "right"),
                                (ALPHA_RELIABLE, " 0.8 reliable", "left")):
            axes.axvline(x, color=GREY, linestyle="--", linewidth=1)
            axes.text(x, -0.7, label, ha=align, va="bottom", fontsize=8, color=GREY)
        axes.axvline(0, color="#1D2430", linewidth=0.8)
        axes.set_xlim(min(-0.2, *(a for a in shown)) - 0.05, 1.25)
        axes.invert_yaxis()
        axes.grid(axis="y", visible=False)
        axes.set_xlabel("Krippendorff's alpha (1 = perfect agreement, 0 = chance)")

    return render(draw, size=(8.0, 3.8), margins={"left": 0.2, "right": 0.97, "top": 0.9,
                                                  "bottom": 0.14})


def alt_agreement(summary: dict[str, Any]) -> str:
    if not summary["n_doubly_annotated"]:
        return "Agreement chart: no double annotations yet."
    parts = [f"{row['label']} {row['alpha']:.2f}" if row["alpha"] is not None
             else f"{row['label']} undefined" for row in summary["dimensions"].values()]
    return (f"Bar chart of Krippendorff's alpha per rubric dimension over "
            f"{summary['n_doubly_annotated']} doubly-annotated replies: "
            + ", ".join(parts) + ".")
