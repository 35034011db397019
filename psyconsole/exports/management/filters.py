"""The export's filters as command-line options, shared by `export` and `retrain`, so
both commands take and read them the same way."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError


def add_filter_arguments(parser: Any) -> None:
    parser.add_argument("--since", help="YYYY-MM-DD, approved on or after")
    parser.add_argument("--until", help="YYYY-MM-DD, approved on or before")
    parser.add_argument("--risk-levels", default="",
                        help="comma-separated; default none, low, moderate")
    parser.add_argument("--include-crisis", action="store_true",
                        help="allow high and imminent questions")
    parser.add_argument("--model-version")
    parser.add_argument("--min-rating", action="append", default=[],
                        metavar="DIMENSION=N", help="e.g. overall=4; repeatable")
    parser.add_argument("--audited-only", action="store_true")


def filters_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The filters as `check_export_filters` takes them (it validates them)."""
    try:
        min_ratings = {k: int(v) for k, v in
                       (item.split("=", 1) for item in options["min_rating"])}
    except ValueError as exc:
        raise CommandError("--min-rating takes DIMENSION=N, e.g. overall=4.") from exc
    return {"since": options["since"], "until": options["until"],
            "risk_levels": options["risk_levels"],
            "include_crisis": options["include_crisis"],
            "model_version": options["model_version"], "min_ratings": min_ratings,
            "audited_only": options["audited_only"]}
