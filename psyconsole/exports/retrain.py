"""The loop as one service: export reviewed replies, train on them, evaluate the new
version next to the current default on the held-out set, and promote it only through
the gate. `manage.py retrain`, the staff page and the Celery task all use it.

Contract:
- `check_retrain_options(data)` validates what a person asked for (ValidationError
  naming the field), export filters included.
- `do_request_retrain(user, options, queue=True)` records a `RetrainRun` (permission
  `exports.export_annotations`, audited `retrain_requested`) and, with `queue`, runs it in
  the worker after commit. One run at a time: another is refused while one is live.
- `do_run_retrain(run_id, say=None)` runs it. Each step is written on the run (state,
  step, progress, figures, log) and audited (`retrain_exported`, `retrain_trained`,
  `retrain_evaluated`, then `retrain_promoted` or `retrain_not_promoted`;
  `retrain_failed` on an error). A re-run continues an interrupted run: a finished
  export is not made again, training resumes from its checkpoints (the run directory is
  named after the run), and evaluations reuse their cached generations.

The decision: the new version is promoted when
1. `promotion_problems` (the gate `manage.py promote` applies) finds nothing;
2. no safety figure (`inference.evaluation.SAFETY_METRICS`) is worse than the default's
   on the same set (the gate compares with a promoted row; this also covers a default
   that comes from settings, such as the shipped adapter);
3. quality is no worse: ROUGE-L against the reference replies is at least the default's
   (`QUALITY_METRICS`);
and `promote` was not turned off. Otherwise the run says why not.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from inference.evaluation import LOWER_IS_BETTER, SAFETY_METRICS, safety_regressions
from inference.models import EvaluationRun, ModelVersion
from inference.sft_data import DataError, data_hash, load_records
from inference.training import METHODS, make_hyperparameters, train
from inference.versions import Version, active_spec, register_adapter, resolve_version
from psyconsole.exports import service
from psyconsole.exports.models import Export, RetrainRun
from psyconsole.questions import states
from psyconsole.questions.management.commands.evaluate import DEFAULT_SET, SHOWN
from psyconsole.questions.services.checks import check_can
from psyconsole.questions.services.model_versions import do_promote, promotion_problems

PERMISSION = service.PERMISSION
DEFAULT_METHOD = "dpo"
QUALITY_METRICS = ("rouge_l",)
# Hyperparameters a retrain may set (type, lowest, highest); the rest are the method's
# defaults.
TUNABLE: dict[str, tuple[type, float, float]] = {
    "epochs": (float, 0.01, 100), "max_steps": (int, 1, 1_000_000),
    "batch_size": (int, 1, 256), "learning_rate": (float, 1e-9, 0.5),
    "beta": (float, 0.001, 10), "max_length": (int, 16, 32768)}
# A run that has written nothing for this long is taken to have died (progress is
# written at least every optimiser step and every evaluated version).
STALE_AFTER = timedelta(minutes=30)
# Where each step's progress bar runs, in percent of the whole run.
SPAN = {"export": (0, 15), "train": (15, 75), "evaluate": (75, 97), "promote": (97, 100)}

Say = Callable[[str], None]


class RetrainError(RuntimeError):
    """A run that cannot go on, with a message for the person who started it."""


@dataclass(frozen=True)
class RetrainOptions:
    method: str = DEFAULT_METHOD
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    eval_set: str = ""  # a path; empty: the held-out set `manage.py evaluate` uses
    eval_limit: int = 0  # evaluate on the first N examples only (0: all)
    max_new_tokens: int = 0  # 0: the drafting setting
    eval_batch_size: int = 8
    promote: bool = True
    filters: dict[str, Any] = field(default_factory=dict)  # ExportFilters.as_json()

    def eval_path(self) -> Path:
        return Path(self.eval_set) if self.eval_set else Path(DEFAULT_SET)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: object, name: str, kind: type, low: float, high: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({name: f"{name} must be a number."})
    if kind is int and value != int(value):
        raise ValidationError({name: f"{name} must be a whole number."})
    if not low <= value <= high:
        raise ValidationError({name: f"{name} must be from {low} to {high}."})
    return kind(value)


def check_retrain_options(data: Mapping[str, object]) -> RetrainOptions:
    """Validates options from the command or the page; raises ValidationError."""
    known = set(RetrainOptions.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ValidationError({"options": f"Unknown options: {', '.join(sorted(unknown))}."})
    method = data.get("method") or DEFAULT_METHOD
    if method not in METHODS:
        raise ValidationError({"method": f"method must be one of {', '.join(METHODS)}."})
    given = data.get("hyperparameters") or {}
    if not isinstance(given, dict) or set(given) - set(TUNABLE):
        raise ValidationError({"hyperparameters": f"hyperparameters may set "
                                                  f"{', '.join(TUNABLE)}."})
    given = {name: _number(value, name, *TUNABLE[name]) for name, value in given.items()
             if value not in (None, "")}
    try:
        make_hyperparameters(str(method), given).check()
    except (DataError, TypeError) as exc:
        raise ValidationError({"hyperparameters": str(exc)}) from exc
    eval_set = data.get("eval_set") or ""
    if not isinstance(eval_set, str | Path):
        raise ValidationError({"eval_set": "eval_set must be a path."})
    path = Path(eval_set) if eval_set else Path(DEFAULT_SET)
    try:
        load_records(path)
    except DataError as exc:
        raise ValidationError({"eval_set": f"Not a held-out SFT set: {exc}"}) from exc
    promote = data.get("promote", True)
    if not isinstance(promote, bool):
        raise ValidationError({"promote": "promote must be true or false."})
    filters = dict(data.get("filters") or {})
    filters["formats"] = [method]  # only what it trains on
    checked = service.check_export_filters(filters)
    return RetrainOptions(
        method=str(method), hyperparameters=given, eval_set=str(eval_set),
        eval_limit=_number(data.get("eval_limit") or 0, "eval_limit", int, 0, 100_000),
        max_new_tokens=_number(data.get("max_new_tokens") or 0, "max_new_tokens", int, 0,
                               2048),
        eval_batch_size=_number(data.get("eval_batch_size") or 8, "eval_batch_size", int,
                                1, 64),
        promote=promote, filters=checked.as_json())


def live_run() -> RetrainRun | None:
    """A run that is queued or running and has written something recently."""
    return (RetrainRun.objects.filter(state__in=[RetrainRun.State.QUEUED,
                                                  RetrainRun.State.RUNNING],
                                      updated_at__gte=timezone.now() - STALE_AFTER)
            .first())


def do_request_retrain(user: AbstractBaseUser, options: RetrainOptions, *,
                       queue: bool = True) -> RetrainRun:
    """Records a retrain and, with `queue`, runs it in the worker after commit."""
    check_can(user, PERMISSION)
    with transaction.atomic():
        # Serialise requests, so two clicks cannot start two runs.
        list(RetrainRun.objects.select_for_update().filter(
            state__in=[RetrainRun.State.QUEUED, RetrainRun.State.RUNNING]))
        other = live_run()
        if other is not None:
            raise ValidationError({"retrain": f"Retrain #{other.pk} is still "
                                              f"{other.get_state_display().lower()}; "
                                              "one runs at a time."})
        run = RetrainRun.objects.create(requested_by=user,
                                        requested_by_label=user.get_username(),
                                        options=options.as_json())
        states.record_event(None, states.Actor.of(user), "retrain_requested",
                            data={"retrain_id": run.pk, "options": options.as_json()})
        if queue:
            from psyconsole.exports.tasks import run_retrain

            run_id = run.pk
            transaction.on_commit(lambda: run_retrain.delay(run_id))
    return run


# --- running it -------------------------------------------------------------------

def _actor(run: RetrainRun) -> states.Actor:
    return states.Actor(run.requested_by_label[:64], run.requested_by)


def _save(run: RetrainRun, *fields: str) -> None:
    run.save(update_fields=[*fields, "updated_at"])


def _log(run: RetrainRun, message: str, say: Say | None, **data: Any) -> None:
    run.log = [*run.log, {"at": timezone.now().isoformat(timespec="seconds"),
                          "step": run.step, "message": message, **data}]
    _save(run, "log", "step", "progress", "figures")
    if say is not None:
        say(message)


def _enter(run: RetrainRun, step: str) -> None:
    run.step = step
    run.progress = max(run.progress, SPAN[step][0])
    _save(run, "step", "progress")


def _advance(run: RetrainRun, step: str, fraction: float) -> None:
    low, high = SPAN[step]
    value = int(low + (high - low) * max(0.0, min(1.0, fraction)))
    if value != run.progress:
        run.progress = value
        _save(run, "progress")


def _audit(run: RetrainRun, action: str, **data: Any) -> None:
    states.record_event(None, _actor(run), action, data={"retrain_id": run.pk, **data})


def _default_version() -> Version:
    spec = active_spec()
    return Version(spec.name, spec)


def _options(run: RetrainRun) -> RetrainOptions:
    return RetrainOptions(**run.options)


def _claim(run_id: int) -> RetrainRun | None:
    """The run, marked running by us; None when it is finished or another worker holds
    it (a redelivered task while the first is alive)."""
    with transaction.atomic():
        run = RetrainRun.objects.select_for_update().get(pk=run_id)
        if run.state == RetrainRun.State.DONE:
            return None
        if (run.state == RetrainRun.State.RUNNING
                and run.updated_at >= timezone.now() - STALE_AFTER):
            return None
        resumed = run.state != RetrainRun.State.QUEUED
        run.state, run.error, run.finished_at = RetrainRun.State.RUNNING, "", None
        if not run.base_version:
            run.base_version = _default_version().name
        _save(run, "state", "error", "finished_at", "base_version")
    run.log = [*run.log, {"at": timezone.now().isoformat(timespec="seconds"),
                          "step": run.step, "message": ("Resumed." if resumed else "Started.")
                          + f" Default drafting model: {run.base_version}."}]
    _save(run, "log")
    return run


def do_run_retrain(run_id: int, *, say: Say | None = None) -> RetrainRun:
    """Runs (or continues) a retrain; returns it finished. Raises what stopped it after
    recording it on the run as failed."""
    run = _claim(run_id)
    if run is None:
        return RetrainRun.objects.get(pk=run_id)
    if say is not None:
        say(run.log[-1]["message"])
    try:
        _export_step(run, say)
        _train_step(run, say)
        _evaluate_step(run, say)
        _decide_step(run, say)
    except BaseException as exc:  # KeyboardInterrupt too: the run must not stay "running"
        run.state, run.finished_at = RetrainRun.State.FAILED, timezone.now()
        run.error = str(exc) if isinstance(exc, RetrainError | DataError) \
            else f"{type(exc).__name__}: {exc}"
        _save(run, "state", "finished_at", "error")
        _log(run, f"Failed at {run.get_step_display().lower()}: {run.error}", say)
        _audit(run, "retrain_failed", step=run.step, error=run.error[:500])
        raise
    return run


def _export_step(run: RetrainRun, say: Say | None) -> None:
    if run.export_id is not None and run.export.state == Export.State.DONE:
        return
    _enter(run, RetrainRun.Step.EXPORT)
    options = _options(run)
    filters = service.check_export_filters(options.filters)
    if run.requested_by is None:
        raise RetrainError("The run has no user to export for.")
    export = service.do_request_export(run.requested_by, filters, queue=False)
    run.export = export
    _save(run, "export")
    export = service.do_run_export(
        export.pk, progress=lambda done, total: _advance(run, "export", done / (total or 1)))
    run.export = export
    counts = export.manifest["counts"]
    rows = export.manifest["files"].get(f"{options.method}/train.jsonl", {}).get("rows", 0)
    run.figures = {**run.figures, "export": {"export_id": export.pk, "train_rows": rows,
                                             "counts": counts}}
    run.progress = SPAN["export"][1]
    _log(run, f"Export #{export.pk}: {counts['reviews_exported']} of "
              f"{counts['reviews_seen']} reviews, {rows} {options.method.upper()} training "
              "rows.", say)
    _audit(run, "retrain_exported", export_id=export.pk, train_rows=rows)


def _version_name(run: RetrainRun, base: Version, method: str) -> str:
    # Named after the base model, not the whole lineage, so names do not grow round by
    # round; the version trained from is its `base_model`.
    root = base.name.split("+", 1)[0]
    return f"{root}+{method}-r{run.pk}-{run.created_at:%Y%m%d%H%M}"[:128]


def _train_step(run: RetrainRun, say: Say | None) -> None:
    if run.new_version_id is not None:
        return
    _enter(run, RetrainRun.Step.TRAIN)
    options = _options(run)
    export = run.export
    rows = run.figures.get("export", {}).get("train_rows", 0)
    if not rows:
        raise RetrainError(f"Export #{export.pk} holds no {options.method.upper()} training "
                           "rows: nothing to train on. Approve (and edit) more drafts, or "
                           "widen the filters.")
    data = Path(export.directory) / options.method / "train.jsonl"
    default = _default_version()
    # A resumed run trains from the version it started with, even if the default moved.
    base = default if run.base_version == default.name else resolve_version(run.base_version)
    hparams = make_hyperparameters(options.method, options.hyperparameters)
    name = _version_name(run, base, options.method)
    output = Path(settings.VAR_DIR) / "training" / name
    _log(run, f"Training {options.method.upper()} from {base.name} "
              f"({'continuing its adapter' if base.spec.adapter else 'a new LoRA adapter'}) "
              f"into {name}.", say)
    result = train(options.method, data, base.model_dir(), output, hparams,
                   base_model_name=base.name,
                   adapter_dir=Path(base.spec.adapter) if base.spec.adapter else None,
                   progress=lambda step, total: _advance(run, "train", step / (total or 1)))
    record = {**result.record, "retrain_id": run.pk, "export_id": export.pk}
    version = register_adapter(name, base, result.adapter_dir, record)
    run.new_version = version
    run.figures = {**run.figures, "training": {
        key: record.get(key) for key in ("method", "examples", "data_sha256", "device",
                                         "hyperparameters", "metrics", "lora", "start")}}
    run.progress = SPAN["train"][1]
    _save(run, "new_version")
    metrics = record["metrics"]
    _log(run, f"Trained {name}: loss {metrics['train_loss']} over {metrics['steps']} steps "
              f"on {record['device']}.", say)
    _audit(run, "retrain_trained", model_version=name, method=options.method,
           metrics=metrics)


def _evaluate(name: str, options: RetrainOptions) -> EvaluationRun:
    """`manage.py evaluate` itself, in this process; returns the run it stored."""
    path = options.eval_path()
    call_command("evaluate", "--model", name, "--set", str(path),
                 "--limit", str(options.eval_limit),
                 "--max-new-tokens", str(options.max_new_tokens),
                 "--batch-size", str(options.eval_batch_size), stdout=io.StringIO())
    return EvaluationRun.objects.filter(model_version__name=name, eval_set=path.name,
                                        data_sha256=data_hash(path)).first()


def _evaluate_step(run: RetrainRun, say: Say | None) -> None:
    done = run.figures.get("evaluation", {})
    if "baseline" in done and "candidate" in done:
        return
    _enter(run, RetrainRun.Step.EVALUATE)
    options = _options(run)
    path = options.eval_path()
    figures: dict[str, Any] = {"eval_set": path.name, "data_sha256": data_hash(path),
                               "limit": options.eval_limit}
    for index, (role, name) in enumerate((("baseline", run.base_version),
                                          ("candidate", run.new_version.name))):
        _log(run, f"Evaluating {name} on {path.name}.", say)
        evaluation = _evaluate(name, options)
        figures[role] = {"version": name, "evaluation_id": evaluation.pk,
                         "metrics": evaluation.metrics}
        run.figures = {**run.figures, "evaluation": figures}
        _advance(run, "evaluate", (index + 1) / 2)
    _log(run, "Evaluated: " + ", ".join(
        f"{metric} {figures['baseline']['metrics'].get(metric)} -> "
        f"{figures['candidate']['metrics'].get(metric)}"
        for metric in (*QUALITY_METRICS, *SAFETY_METRICS)) + ".", say)
    _audit(run, "retrain_evaluated", eval_set=path.name,
           baseline=figures["baseline"]["version"], candidate=figures["candidate"]["version"])


def quality_problems(candidate: dict[str, Any], baseline: dict[str, Any],
                     baseline_name: str) -> list[str]:
    found = []
    for name in QUALITY_METRICS:
        new, old = candidate.get(name), baseline.get(name)
        if new is None or old is None:
            continue
        if (new > old) if name in LOWER_IS_BETTER else (new < old):
            found.append(f"lower quality than {baseline_name} on {name} {old} -> {new}")
    return found


def decision_problems(version: ModelVersion, candidate: dict[str, Any],
                      baseline: dict[str, Any], baseline_name: str) -> list[str]:
    """Everything that stands in the way of promoting `version` (see the module's
    docstring); empty when it may be promoted."""
    problems = list(promotion_problems(version))
    problems += [f"worse than {baseline_name} on {worse}"
                 for worse in safety_regressions(candidate, baseline)]
    problems += quality_problems(candidate, baseline, baseline_name)
    return list(dict.fromkeys(problems))  # the gate and this check can say the same


def _decide_step(run: RetrainRun, say: Say | None) -> None:
    _enter(run, RetrainRun.Step.PROMOTE)
    options = _options(run)
    evaluation = run.figures["evaluation"]
    version = run.new_version
    problems = decision_problems(version, evaluation["candidate"]["metrics"],
                                 evaluation["baseline"]["metrics"], run.base_version)
    compared = ", ".join((*QUALITY_METRICS, *SAFETY_METRICS))
    if problems:
        run.decision = "Not promoted: " + "; ".join(problems) + "."
    elif not options.promote:
        run.decision = (f"Not promoted: promotion was turned off. {version.name} passed "
                        f"the gate ({compared} no worse than {run.base_version}).")
    else:
        do_promote(version, by=run.requested_by_label, forced_past=[],
                   reason=f"retrain #{run.pk}")
        run.promoted = True
        run.decision = (f"Promoted {version.name}: no worse than {run.base_version} on "
                        f"{compared}.")
        if settings.LLM_MODEL_VERSION and version.name != settings.LLM_MODEL_VERSION:
            run.decision += (f" PSY_LLM_MODEL_VERSION pins drafting to "
                             f"{settings.LLM_MODEL_VERSION}; unset it to draft with this one.")
    run.figures = {**run.figures, "gate": {"problems": problems,
                                           "quality_metrics": list(QUALITY_METRICS),
                                           "safety_metrics": list(SAFETY_METRICS)}}
    _log(run, run.decision, say)
    run.state, run.step, run.progress = (RetrainRun.State.DONE, RetrainRun.Step.DONE, 100)
    run.finished_at = timezone.now()
    _save(run, "state", "step", "progress", "finished_at", "promoted", "decision")
    _audit(run, "retrain_promoted" if run.promoted else "retrain_not_promoted",
           model_version=version.name, baseline=run.base_version, problems=problems)


# --- what the page shows ---------------------------------------------------------

def side_by_side(run: RetrainRun) -> list[dict[str, Any]]:
    """The evaluation figures of the default and the new version, one row a metric."""
    evaluation = run.figures.get("evaluation") or {}
    if "baseline" not in evaluation or "candidate" not in evaluation:
        return []
    old, new = evaluation["baseline"]["metrics"], evaluation["candidate"]["metrics"]
    rows = []
    for name in SHOWN:
        a, b = old.get(name), new.get(name)
        verdict = ""
        if isinstance(a, int | float) and isinstance(b, int | float) and a != b:
            better = (b < a) if name in LOWER_IS_BETTER else (b > a)
            verdict = "better" if better else "worse"
        rows.append({"metric": name, "baseline": a, "candidate": b, "verdict": verdict,
                     "safety": name in SAFETY_METRICS, "quality": name in QUALITY_METRICS})
    return rows


def quality_history(eval_set: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """ROUGE-L and citation validity of each version on `eval_set` (its newest data),
    oldest evaluation first: the latest evaluation of each version."""
    newest = EvaluationRun.objects.filter(eval_set=eval_set).first()
    if newest is None:
        return []
    runs = (EvaluationRun.objects.filter(eval_set=eval_set, data_sha256=newest.data_sha256)
            .select_related("model_version").order_by("created_at", "id"))
    latest: dict[str, EvaluationRun] = {}
    first_seen: dict[str, Any] = {}
    for evaluation in runs:
        name = evaluation.model_version.name
        first_seen.setdefault(name, evaluation.created_at)
        latest[name] = evaluation
    names = sorted(latest, key=lambda n: first_seen[n])[-limit:]
    return [{"version": name, "is_default": latest[name].model_version.is_default,
             "evaluated_at": latest[name].created_at,
             "rouge_l": latest[name].metrics.get("rouge_l"),
             "citation_validity": latest[name].metrics.get("citation_validity"),
             "guardrail_violation_rate": latest[name].metrics.get("guardrail_violation_rate"),
             "examples": latest[name].metrics.get("examples")}
            for name in names]
