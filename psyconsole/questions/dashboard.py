"""What the staff dashboard shows, computed from the workflow's own records (reads only).

Every series covers a window: the last 7, 30 or 90 days (`WINDOW_DAYS`), ending now.

- Queue depth: the open questions at each sampling time, from each question's
  `created_at` and the first audit event that moved it to a closed state (approved,
  rejected, withdrawn, erased...). A question opened before the window and still open
  counts. Sampled every hour for 7 days, every 4 hours for 30 and every 12 for 90.
- First response: `first_claimed_at - created_at` for the questions that arrived in the
  window, per risk level, against that level's `TRIAGE_SLA_MINUTES`.
- Draft edits: for each reply approved in the window that was based on a draft, the
  share of words changed between that draft and the approved text (the exports' own
  `word_edit_share`), per model version; "rewritten" means at least
  `EXPORT_MATERIAL_EDIT`, the threshold at which an export calls the draft rejected.
- Rubric: the mean of each ordinal rubric dimension over the current annotations of the
  replies approved in the window, per week (per day for the 7-day window).
- Agreement: Krippendorff's alpha per dimension over every doubly-annotated reply (all
  time: second annotations are a sample, too few for a window).

Nothing here returns client text: only counts, times, shares and model version names.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Min, OuterRef, Q, Subquery
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone

from psyconsole.exports.formats import word_edit_share
from psyconsole.questions import rubric
from psyconsole.questions.models import Annotation, AuditEvent, Question, Review, RiskLevel
from psyconsole.questions.states import CLOSED_STATES, OPEN_STATES
from psyconsole.screening.levels import LEVELS

WINDOW_DAYS = (7, 30, 90)
DEFAULT_WINDOW_DAYS = 30
# Hours between queue-depth samples, per window: about 170 to 720 points a chart.
SAMPLE_HOURS = {7: 1, 30: 4, 90: 12}
# The most urgent level first, as the queue orders them.
LEVELS_BY_URGENCY = tuple(reversed(LEVELS))


class BadWindow(ValueError):
    """The requested window is not one of `WINDOW_DAYS`."""


@dataclass(frozen=True)
class Window:
    days: int
    start: datetime
    end: datetime

    @property
    def sample_step(self) -> timedelta:
        return timedelta(hours=SAMPLE_HOURS[self.days])

    @property
    def rubric_bucket(self) -> str:
        return "day" if self.days <= 7 else "week"


def check_window(raw: str | None) -> int:
    """The window's length in days from a query parameter: absent means the default;
    anything but 7, 30 or 90 is refused."""
    if raw is None:
        return DEFAULT_WINDOW_DAYS
    if raw.strip() not in {str(d) for d in WINDOW_DAYS}:
        raise BadWindow(f"days must be one of {', '.join(map(str, WINDOW_DAYS))}.")
    return int(raw)


def window(days: int = DEFAULT_WINDOW_DAYS, now: datetime | None = None) -> Window:
    if days not in WINDOW_DAYS:
        raise BadWindow(f"days must be one of {', '.join(map(str, WINDOW_DAYS))}.")
    end = now or timezone.now()
    return Window(days, end - timedelta(days=days), end)


# --- queue depth -------------------------------------------------------------------------

@dataclass
class QueueDepth:
    samples: list[tuple[datetime, int]]  # (time, open questions then)
    days: list[dict[str, Any]]  # per local day: date, arrived, closed, peak, open_at_end
    open_now: int
    peak: int
    peak_at: datetime | None
    arrived: int
    closed: int

    @property
    def is_empty(self) -> bool:
        return self.peak == 0 and self.arrived == 0 and self.closed == 0


def _closed_at() -> Subquery:
    """When the question first reached a closed state (its first closing transition)."""
    return Subquery(AuditEvent.objects.filter(question=OuterRef("pk"),
                                              to_state__in=CLOSED_STATES)
                    .values("question").annotate(first=Min("created_at")).values("first")[:1])


def queue_depth(win: Window) -> QueueDepth:
    rows = list(Question.objects.filter(created_at__lte=win.end)
                .annotate(closed_at=_closed_at())
                .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=win.start))
                .values_list("created_at", "closed_at", "status"))
    # A question in an open state has no closed_at; one closed without a closing event
    # (data from before the audit trail) is treated as closed when it arrived.
    created = sorted(c for c, _, _ in rows)
    closed = sorted(closed_at if closed_at is not None else c
                    for c, closed_at, status in rows
                    if closed_at is not None or status not in OPEN_STATES)

    def depth(at: datetime) -> int:
        return bisect_right(created, at) - bisect_right(closed, at)

    samples = []
    at = win.start
    while at < win.end:
        samples.append((at, depth(at)))
        at += win.sample_step
    samples.append((win.end, depth(win.end)))

    tz = timezone.get_current_timezone()
    days = []
    day = timezone.localtime(win.start, tz).date()
    last_day = timezone.localtime(win.end, tz).date()
    while day <= last_day:
        day_start = max(win.start, datetime.combine(day, datetime.min.time(), tz))
        day_end = min(win.end, datetime.combine(day + timedelta(days=1),
                                                datetime.min.time(), tz))
        arrivals = [c for c in created if day_start <= c < day_end]
        peak = max([depth(day_start), *(depth(c) for c in arrivals)])
        days.append({"date": day, "arrived": len(arrivals),
                     "closed": sum(day_start <= c < day_end for c in closed),
                     "peak": peak, "open_at_end": depth(day_end)})
        day += timedelta(days=1)
    # The queue is deepest just after an arrival (or at the window's start).
    peak_at, peak = win.start, depth(win.start)
    for arrival in created:
        if win.start <= arrival <= win.end and depth(arrival) > peak:
            peak_at, peak = arrival, depth(arrival)
    return QueueDepth(
        samples=samples, days=days, open_now=depth(win.end), peak=peak,
        peak_at=peak_at if peak > 0 else None,
        arrived=sum(win.start <= c <= win.end for c in created),
        closed=sum(win.start <= c <= win.end for c in closed))


# --- first response against the SLA --------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0-1) with linear interpolation between the closest ranks
    (numpy's default, and a spreadsheet's PERCENTILE)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class ResponseLevel:
    level: str
    label: str
    sla_minutes: int
    minutes: list[float] = field(default_factory=list)  # answered ones
    waiting: int = 0  # open, nobody has claimed it yet
    waiting_past_sla: int = 0

    @property
    def answered(self) -> int:
        return len(self.minutes)

    @property
    def median(self) -> float | None:
        return statistics.median(self.minutes) if self.minutes else None

    @property
    def p90(self) -> float | None:
        return percentile(self.minutes, 0.9) if self.minutes else None

    @property
    def within_sla(self) -> int:
        return sum(m <= self.sla_minutes for m in self.minutes)

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.answered if self.minutes else None


def first_response(win: Window) -> list[ResponseLevel]:
    """One row per risk level, the most urgent first."""
    labels = dict(RiskLevel.choices)
    by_level = {level: ResponseLevel(level, labels[level], settings.TRIAGE_SLA_MINUTES[level])
                for level in LEVELS_BY_URGENCY}
    rows = (Question.objects.filter(created_at__gte=win.start, created_at__lte=win.end)
            .values_list("risk_level", "created_at", "first_claimed_at", "status"))
    for level, created, claimed, status in rows:
        row = by_level[level]
        if claimed is not None:
            row.minutes.append(max(0.0, (claimed - created).total_seconds() / 60))
        elif status in OPEN_STATES:
            row.waiting += 1
            if win.end - created > timedelta(minutes=row.sla_minutes):
                row.waiting_past_sla += 1
    return list(by_level.values())


# --- drafts used as they were or rewritten -----------------------------------------------

EDIT_KINDS = (("as_is", "Used as it was"), ("light", "Lightly edited"),
              ("rewritten", "Rewritten"))


@dataclass
class VersionEdits:
    model_version: str
    shares: list[float] = field(default_factory=list)  # word edit share per reply

    @property
    def n(self) -> int:
        return len(self.shares)

    def kind_of(self, share: float) -> str:
        if share == 0:
            return "as_is"
        return "rewritten" if share >= settings.EXPORT_MATERIAL_EDIT else "light"

    @property
    def counts(self) -> dict[str, int]:
        found = dict.fromkeys((k for k, _ in EDIT_KINDS), 0)
        for share in self.shares:
            found[self.kind_of(share)] += 1
        return found

    @property
    def fractions(self) -> dict[str, float]:
        return {k: (v / self.n if self.n else 0.0) for k, v in self.counts.items()}

    @property
    def median_share(self) -> float | None:
        return statistics.median(self.shares) if self.shares else None

    @property
    def mean_share(self) -> float | None:
        return statistics.fmean(self.shares) if self.shares else None


@dataclass
class DraftEdits:
    versions: list[VersionEdits]
    without_draft: int  # approved replies written with no draft behind them
    threshold: float

    @property
    def is_empty(self) -> bool:
        return not self.versions


def draft_edits(win: Window) -> DraftEdits:
    approved = Review.objects.filter(decision=Review.Decision.APPROVED,
                                     created_at__gte=win.start, created_at__lte=win.end)
    by_version: dict[str, VersionEdits] = {}
    rows = (approved.filter(draft__isnull=False)
            .values_list("draft__model_version__name", "draft__text", "final_text")
            .order_by("draft__model_version__name", "id"))
    for name, draft_text, final_text in rows:
        by_version.setdefault(name, VersionEdits(name)).shares.append(
            word_edit_share(draft_text, final_text))
    return DraftEdits(versions=list(by_version.values()),
                      without_draft=approved.filter(draft__isnull=True).count(),
                      threshold=settings.EXPORT_MATERIAL_EDIT)


# --- rubric scores over time ---------------------------------------------------------------

RUBRIC_DIMENSIONS = tuple(rubric.BY_NAME[name] for name in rubric.ORDINAL_NAMES)


@dataclass
class RubricSeries:
    bucket: str  # "week" or "day"
    rows: list[dict[str, Any]]  # start (date), n, and one mean (or None) per dimension

    @property
    def is_empty(self) -> bool:
        return not self.rows


def rubric_scores(win: Window) -> RubricSeries:
    trunc = TruncDay if win.rubric_bucket == "day" else TruncWeek
    means = {name: Avg(name) for name in rubric.ORDINAL_NAMES}
    found = (Annotation.objects.filter(superseded_at__isnull=True,
                                       review__decision=Review.Decision.APPROVED,
                                       review__created_at__gte=win.start,
                                       review__created_at__lte=win.end)
             .annotate(start=trunc("review__created_at",
                                   tzinfo=timezone.get_current_timezone()))
             .values("start").annotate(n=Count("id"), **means).order_by("start"))
    rows = []
    for row in found:
        start = row["start"]
        rows.append({"start": start.date() if isinstance(start, datetime) else start,
                     "n": row["n"],
                     **{name: (None if row[name] is None else round(float(row[name]), 2))
                        for name in rubric.ORDINAL_NAMES}})
    return RubricSeries(win.rubric_bucket, rows)


# --- agreement ---------------------------------------------------------------------------

def agreement() -> dict[str, Any]:
    """The agreement page's own summary (selectors.agreement_summary): alpha per
    dimension, or `n_doubly_annotated == 0` when the loop has no data yet."""
    from psyconsole.questions.selectors import agreement_summary

    return agreement_summary()
