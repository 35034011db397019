"""Exporting reviewed replies as training data: one service for the command, the staff
page and the API.

`check_export_filters` validates what a person asked for; `do_request_export` records
the request (permission `exports.export_annotations`, audited) and queues it;
`do_run_export` writes it: TRL's SFT, DPO and KTO formats, split by question into train
and validation, with PII scrubbed from every client and counsellor text, questions that
repeat an evaluation set left out, questions whose client asked for a reply without AI
never exported, a manifest and a dataset card.

It streams: reviews are read in chunks and every record is written as it is made, so
memory stays flat however many reviews there are. It is safe to re-run: files are
written into a `.partial` folder that replaces the export's folder only when complete,
and the same data and filters give byte-identical files.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from psyconsole.exports import card, formats
from psyconsole.exports.contamination import evaluation_index
from psyconsole.exports.models import Export
from psyconsole.exports.selectors import reviews_to_export
from psyconsole.questions import limits, states
from psyconsole.questions.models import Review
from psyconsole.questions.services.checks import check_can
from psyconsole.screening.levels import LEVELS, is_crisis

PERMISSION = "exports.export_annotations"
SPLITS = ("train", "validation")
VALIDATION_PERCENT = 10
CHUNK = 200  # reviews read, scrubbed and written together
SCRUB_BATCH = 64
DEFAULT_RISK_LEVELS = tuple(level for level in LEVELS if not is_crisis(level))
_CLIENT_MESSAGE = re.compile(r"(<client_message>\n)(.*?)(\n</client_message>)", re.DOTALL)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportFilters:
    formats: tuple[str, ...] = formats.FORMATS
    since: date | None = None
    until: date | None = None
    # Crisis questions are left out unless asked for: a reply to someone at risk is the
    # vetted crisis template, not what the model should learn to write freely.
    risk_levels: tuple[str, ...] = DEFAULT_RISK_LEVELS
    model_version: str | None = None
    min_ratings: dict[str, int] = field(default_factory=dict)
    audited_only: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        data["include_crisis"] = any(is_crisis(level) for level in self.risk_levels)
        return data


def _check_date(value: object, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValidationError({name: f"{name} must be a date (YYYY-MM-DD)."})
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({name: f"{name} must be a date (YYYY-MM-DD)."}) from exc


def _check_list(value: object, name: str, allowed: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    allowed = tuple(allowed)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError({name: f"{name} must be a list of: {', '.join(allowed)}."})
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ValidationError({name: f"Unknown {name} {', '.join(unknown)}; choose from "
                                     f"{', '.join(allowed)}."})
    return tuple(v for v in allowed if v in value)  # a stable order


def check_export_filters(data: Mapping[str, object]) -> ExportFilters:
    """Validates filters from the command, the page or the API; raises ValidationError
    naming the field."""
    known = set(ExportFilters.__dataclass_fields__) | {"include_crisis"}
    unknown = set(data) - known
    if unknown:
        raise ValidationError({"filters": f"Unknown filters: {', '.join(sorted(unknown))}."})
    chosen = _check_list(data.get("formats") or list(formats.FORMATS), "formats",
                         formats.FORMATS)
    if not chosen:
        raise ValidationError({"formats": "Choose at least one format."})
    levels = data.get("risk_levels")
    if levels in (None, "", []):
        levels = list(LEVELS if data.get("include_crisis") is True else DEFAULT_RISK_LEVELS)
    risk_levels = _check_list(levels, "risk_levels", LEVELS)
    if any(is_crisis(level) for level in risk_levels) and data.get("include_crisis") is not True:
        raise ValidationError({"risk_levels": "Crisis questions (high, imminent) are left "
                                              "out unless include_crisis is true."})
    since, until = _check_date(data.get("since"), "since"), _check_date(data.get("until"),
                                                                        "until")
    if since and until and since > until:
        raise ValidationError({"until": "until must not be before since."})
    model_version = data.get("model_version") or None
    if model_version is not None and (not isinstance(model_version, str)
                                      or len(model_version) > 100):
        raise ValidationError({"model_version": "model_version must be a version name."})
    min_ratings = data.get("min_ratings") or {}
    low, high = limits.RATING_RANGE
    if not isinstance(min_ratings, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            and low <= v <= high for k, v in min_ratings.items()):
        raise ValidationError({"min_ratings": f"min_ratings maps a rubric dimension to a "
                                              f"whole number from {low} to {high}."})
    audited_only = data.get("audited_only", False)
    if not isinstance(audited_only, bool):
        raise ValidationError({"audited_only": "audited_only must be true or false."})
    return ExportFilters(formats=chosen, since=since, until=until, risk_levels=risk_levels,
                         model_version=model_version, min_ratings=dict(min_ratings),
                         audited_only=audited_only)


def do_request_export(user: AbstractBaseUser, filters: ExportFilters, *,
                      queue: bool = True) -> Export:
    """Records an export and, with `queue`, runs it in the worker after commit."""
    check_can(user, PERMISSION)
    with transaction.atomic():
        export = Export.objects.create(requested_by=user,
                                       requested_by_label=user.get_username(),
                                       filters=filters.as_json())
        states.record_event(None, states.Actor.of(user), "export_requested",
                            data={"export_id": export.pk, "filters": filters.as_json()})
        if queue:
            from psyconsole.exports.tasks import run_export

            export_id = export.pk
            transaction.on_commit(lambda: run_export.delay(export_id))
    return export


def split_of(question_id: int) -> str:
    """Train or validation, by question, the same in every export."""
    digest = hashlib.sha256(f"psy-export-split:{question_id}".encode()).digest()
    return "validation" if int.from_bytes(digest[:4], "big") % 100 < VALIDATION_PERCENT \
        else "train"


class _Scrubber:
    """Scrubs client and counsellor text in batches (the NER model reads a batch far
    faster than the same texts one by one), and counts what it found."""

    def __init__(self) -> None:
        from psyconsole.exports.pii import get_scrubber, service_keep

        self._scrubber = get_scrubber()
        self._keep = service_keep()
        self.found: Counter[str] = Counter()

    def many(self, texts: list[str], keep: Iterable[str]) -> list[str]:
        results = list(self._scrubber.scrub_many(
            texts, keep=[*self._keep, *keep], batch_size=SCRUB_BATCH))
        for result in results:
            self.found.update(result.found)
        return [result.text for result in results]


@dataclass
class _Pending:
    """One review's pair, waiting for its texts to come back from the scrubber."""

    review: Review
    rubric: dict[str, Any]
    prompt: list[dict[str, str]]
    texts: list[str]  # client segments of the prompt, then final, draft, other candidates
    segments: int

    @classmethod
    def of(cls, review: Review, rubric: dict[str, Any]) -> _Pending | None:
        draft = review.draft
        if draft is None or not draft.prompt:
            return None  # written without a draft: there is no drafting prompt
        segments: list[str] = []
        for message in draft.prompt:
            if message.get("role") == "user":
                content = message.get("content", "")
                found = _CLIENT_MESSAGE.findall(content)
                # The system prompt and the passages are the project's own text and stay
                # as the model saw them; a prompt without the fence is scrubbed whole.
                segments += [m[1] for m in found] if found else [content]
        others = [d.text for d in review.question.drafts.all()
                  if d.pk != draft.pk and d.prompt == draft.prompt]
        return cls(review, rubric, draft.prompt,
                   [*segments, review.final_text, draft.text, *others], len(segments))

    def urls(self) -> list[str]:
        return [p.get("url", "") for p in self.review.draft.passages if p.get("url")]

    def pair(self, scrubbed: list[str]) -> formats.Pair:
        segments = iter(scrubbed[:self.segments])
        prompt = []
        for message in self.prompt:
            content = message.get("content", "")
            if message.get("role") == "user":
                if _CLIENT_MESSAGE.search(content):
                    content = _CLIENT_MESSAGE.sub(
                        lambda m: m.group(1) + next(segments) + m.group(3), content)
                else:
                    content = next(segments)
            prompt.append({"role": message["role"], "content": content})
        final, draft, *others = scrubbed[self.segments:]
        return formats.Pair(prompt=prompt, final=final, draft=draft,
                            other_candidates=others, overall=self.rubric.get("overall"))


def _code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR,
                              capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(handle: IO[str], record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def do_run_export(export_id: int, *, progress: Progress | None = None) -> Export:
    """Writes the export's files and manifest. Re-running an export rewrites it whole."""
    from psyconsole.questions.selectors import agreement_summary

    export = Export.objects.get(pk=export_id)
    filters = check_export_filters(export.filters)
    chosen = {"since": filters.since, "until": filters.until,
              "risk_levels": filters.risk_levels, "model_version": filters.model_version,
              "audited_only": filters.audited_only}
    reviews = reviews_to_export(**chosen)
    total = reviews.count()
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING, total=total,
                                               processed=0, error="")
    final_dir = Path(settings.EXPORT_DIR) / f"export-{export.pk:05d}"
    partial = final_dir.with_name(final_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    scrubber = _Scrubber()
    stats = card.Stats()
    # Never read, only counted: the client asked for a reply without AI (see
    # reviews_to_export), so nothing of theirs is exported for retraining.
    no_ai = reviews_to_export(**chosen, human_only=True).count()
    if no_ai:
        stats.skipped[card.HUMAN_ONLY_LEFT_OUT] = no_ai
    index = evaluation_index()
    try:
        with ExitStack() as stack:
            files: dict[tuple[str, str], IO[str]] = {}
            for fmt in filters.formats:
                (partial / fmt).mkdir(parents=True, exist_ok=True)
                for split in SPLITS:
                    files[fmt, split] = stack.enter_context(
                        (partial / fmt / f"{split}.jsonl").open("w", encoding="utf-8"))
            done = 0
            for chunk in _chunks(reviews.iterator(chunk_size=CHUNK), CHUNK):
                _export_chunk(chunk, filters, scrubber, index, stats, files)
                done += len(chunk)
                del chunk
                # Prefetched drafts and their question point at each other: reference
                # cycles that only the cyclic collector frees. Left to its thresholds,
                # memory grew by about 6 KB a review (benchmarks/export_memory.py).
                gc.collect()
                Export.objects.filter(pk=export.pk).update(processed=done)
                if progress is not None:
                    progress(done, total)
        manifest = {
            "export_id": export.pk, "created_at": timezone.now().isoformat(),
            "requested_by": export.requested_by_label, "filters": filters.as_json(),
            "code_version": _code_version(), "validation_percent": VALIDATION_PERCENT,
            "counts": stats.counts(),
            "files": {str(path.relative_to(partial)): {
                "sha256": _sha256(path), "rows": stats.rows.get(
                    str(path.relative_to(partial)), 0)}
                for path in sorted(partial.rglob("*.jsonl"))},
        }
        agreement = agreement_summary()
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        (partial / "README.md").write_text(card.render(manifest, stats, agreement,
                                                       dict(scrubber.found)))
        if final_dir.exists():
            shutil.rmtree(final_dir)
        partial.rename(final_dir)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        Export.objects.filter(pk=export.pk).update(state=Export.State.FAILED,
                                                   error=f"{type(exc).__name__}: {exc}",
                                                   finished_at=timezone.now())
        raise
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            state=Export.State.DONE, directory=str(final_dir), manifest=manifest,
            finished_at=timezone.now(), processed=total)
        states.record_event(None, states.Actor(export.requested_by_label,
                                               export.requested_by),
                            "export_written", data={"export_id": export.pk,
                                                    "counts": manifest["counts"]})
    export.refresh_from_db()
    return export


def _chunks(items: Iterable[Review], size: int) -> Iterator[list[Review]]:
    chunk: list[Review] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _export_chunk(reviews: list[Review], filters: ExportFilters, scrubber: _Scrubber,
                  index: Any, stats: card.Stats, files: dict[tuple[str, str], IO[str]]
                  ) -> None:
    """Writes a chunk of reviews: what is left out is counted, the rest is scrubbed in
    one batch and written in review order (so a re-run gives the same files)."""
    from psyconsole.questions.selectors import rubric_for_export

    pending: list[_Pending] = []
    for review in reviews:
        stats.seen += 1
        rubric = rubric_for_export(review)
        if any((rubric.get(dim) or 0) < floor for dim, floor in filters.min_ratings.items()):
            stats.skipped["below the minimum ratings"] += 1
        elif index.is_near_duplicate(review.question.text):
            stats.skipped["near-duplicate of an evaluation question"] += 1
        elif (item := _Pending.of(review, rubric)) is None:
            stats.skipped["written without a draft (no drafting prompt)"] += 1
        else:
            pending.append(item)
    texts = [text for item in pending for text in item.texts]
    scrubbed = iter(scrubber.many(texts, keep=[u for item in pending for u in item.urls()]))
    for item in pending:
        pair = item.pair([next(scrubbed) for _ in item.texts])
        split = split_of(item.review.question_id)
        stats.add_review(item.review, item.rubric, split)
        for fmt in filters.formats:
            for record in formats.records(fmt, pair, settings.EXPORT_MATERIAL_EDIT):
                _write(files[fmt, split], record)
                stats.rows[f"{fmt}/{split}.jsonl"] += 1


def do_open_export_file(user: AbstractBaseUser, export: Export, fmt: str, split: str
                        ) -> Path:
    """The path of one file of a finished export, for download; audited, because the
    file holds what clients wrote (scrubbed, but still theirs)."""
    check_can(user, PERMISSION)
    if (export.state != Export.State.DONE or fmt not in formats.FORMATS
            or split not in SPLITS):
        raise Export.DoesNotExist
    path = Path(export.directory) / fmt / f"{split}.jsonl"
    if not path.exists():
        raise Export.DoesNotExist
    states.record_event(None, states.Actor.of(user), "export_downloaded",
                        data={"export_id": export.pk, "file": f"{fmt}/{split}.jsonl"})
    return path
