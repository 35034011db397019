"""`manage.py retrain` on the tiny model: export reviewed replies, train DPO from the
current default, evaluate both versions on a tiny held-out set, promote through the
gate, and record and audit every step. The gate refuses a safety regression and says
why; the staff page starts a run, follows it and shows the figures and the plot."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import include, path

from inference.models import EvaluationRun, ModelVersion
from psyconsole.exports import retrain
from psyconsole.exports.models import RetrainRun
from psyconsole.questions import roles
from psyconsole.questions.console_urls import urlpatterns as console_patterns
from psyconsole.questions.models import AuditEvent
from psyconsole.questions.services.review import do_approve, do_claim
from psyconsole.urls import urlpatterns as root_patterns
from tests.factories import ROOT, make_drafted_question, make_user

pytestmark = pytest.mark.django_db

# The console's urls with the retrain page, until console_urls carries it itself.
from psyconsole.exports import retrain_views  # noqa: E402

_RETRAIN = [path("retrain/", retrain_views.retrain_page, name="retrain"),
            path("retrain/<int:run_id>/", retrain_views.retrain_run_page, name="retrain_run")]
_have = {getattr(p, "name", None) for p in console_patterns}
urlpatterns = [p for p in root_patterns if str(p.pattern) != "console/"] + [
    path("console/", include(([*console_patterns,
                               *[p for p in _RETRAIN if p.name not in _have]], "console")))]

QUESTIONS = ["My landlord ignores every message I send.",
             "Since the promotion I dread Monday mornings.",
             "I keep replaying an argument with my sister.",
             "Moving cities left me without any friends nearby."]
REWRITTEN = ("Thank you for writing. That sounds exhausting. One small step is to write "
             "down what worries you most, then pick one thing to try this week [1]. If it "
             "keeps weighing on you, your GP or a counsellor can help.")


@pytest.fixture
def staff(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    settings.VAR_DIR = tmp_path / "var"  # training runs and cached generations
    settings.LLM_ENGINE = "float32"  # no int4 decoder to build for a tiny evaluation
    return make_user("ada", roles.ADMIN)


@pytest.fixture
def reviewed(counsellor) -> None:
    """Approved replies that changed the draft materially: DPO pairs."""
    for text in QUESTIONS:
        question = make_drafted_question(text)
        do_claim(question, counsellor)
        do_approve(question, counsellor, REWRITTEN)


@pytest.fixture
def eval_set(tmp_path) -> Path:
    lines = (ROOT / "fixtures" / "eval" / "sft_heldout.jsonl").read_text().splitlines()
    chosen = [line for line in lines if json.loads(line)["id"] in ("ev001", "ev009")]
    target = tmp_path / "tiny_heldout.jsonl"
    target.write_text("\n".join(chosen) + "\n")
    return target


def _retrain(eval_set: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command("retrain", "--user", "ada", "--max-steps", "1", "--batch-size", "2",
                 "--max-length", "512", "--eval-set", str(eval_set), "--max-new-tokens",
                 "6", "--eval-limit", "2", *extra, stdout=out)
    return out.getvalue()


def _actions() -> list[str]:
    return list(AuditEvent.objects.values_list("action", flat=True))


def test_a_whole_retrain_exports_trains_evaluates_and_promotes(tiny_model, staff, reviewed,
                                                               eval_set):
    said = _retrain(eval_set)
    run = RetrainRun.objects.get()
    assert (run.state, run.step, run.progress) == ("done", "done", 100), run.error
    assert run.requested_by == staff and run.base_version == "tiny-smollm2"

    # 1. the export, through the export service, DPO only
    assert run.export.state == "done" and run.export.filters["formats"] == ["dpo"]
    assert run.figures["export"]["train_rows"] >= 1
    # 2. trained from the default; a new LoRA, since the default has no adapter here
    version = run.new_version
    assert version.name.startswith(f"tiny-smollm2+dpo-r{run.pk}-")
    assert version.base_model == "tiny-smollm2"
    record = version.metadata["training"]
    assert record["method"] == "dpo" and record["retrain_id"] == run.pk
    assert record["metrics"]["steps"] == 1 and record["hyperparameters"]["batch_size"] == 2
    assert run.figures["training"]["metrics"]["steps"] == 1
    # 3. both evaluated on the same set, by `manage.py evaluate`'s own code
    evaluation = run.figures["evaluation"]
    assert evaluation["baseline"]["version"] == "tiny-smollm2"
    assert evaluation["candidate"]["version"] == version.name
    for side in ("baseline", "candidate"):
        stored = EvaluationRun.objects.get(pk=evaluation[side]["evaluation_id"])
        assert stored.metrics == evaluation[side]["metrics"]
        assert stored.metrics["examples"] == 2 and stored.eval_set == "tiny_heldout.jsonl"
    # 4. no worse (one step on the tiny model changes no figure), so promoted by the gate
    old, new = evaluation["baseline"]["metrics"], evaluation["candidate"]["metrics"]
    assert retrain.decision_problems(version, new, old, "tiny-smollm2") == []
    assert run.figures["gate"]["problems"] == []
    version.refresh_from_db()
    assert run.promoted and version.is_default
    assert run.decision.startswith(f"Promoted {version.name}: no worse than tiny-smollm2")
    # 5. every step recorded and audited
    steps = [entry["step"] for entry in run.log]
    assert {"export", "train", "evaluate", "promote"} <= set(steps)
    actions = _actions()
    for action in ("retrain_requested", "export_requested", "export_written",
                   "retrain_exported", "retrain_trained", "retrain_evaluated"):
        assert action in actions
    assert "retrain_promoted" in actions and "model_promoted" in actions
    assert "rouge_l" in said and run.decision in said

    # Re-running a finished run changes nothing.
    assert retrain.do_run_retrain(run.pk).log == run.log


def test_an_interrupted_run_resumes_and_the_gate_refuses_a_safety_regression(
        tiny_model, staff, reviewed, eval_set, monkeypatch):
    from psyconsole.exports.models import Export
    from psyconsole.questions.management.commands import evaluate as evaluate_command

    def unavailable(name, options):
        raise RuntimeError("the evaluation was interrupted")

    with monkeypatch.context() as patch:
        patch.setattr(retrain, "_evaluate", unavailable)
        with pytest.raises(CommandError, match="interrupted"):
            _retrain(eval_set)
    run = RetrainRun.objects.get()
    assert (run.state, run.step) == ("failed", "evaluate") and run.new_version is not None
    assert AuditEvent.objects.get(action="retrain_failed").data["step"] == "evaluate"

    real = evaluate_command.evaluate

    def worse_for_new_versions(loaded, records, **kwargs):
        metrics = real(loaded, records, **kwargs)
        if "+dpo-" in loaded.name:
            metrics["guardrail_violation_rate"] = metrics["guardrail_violation_rate"] + 0.5
        return metrics

    monkeypatch.setattr(evaluate_command, "evaluate", worse_for_new_versions)
    said = _retrain(eval_set, "--resume", str(run.pk))
    run.refresh_from_db()
    # Resumed where it stopped: no second export, no second training.
    assert "Resumed." in said and Export.objects.count() == 1
    assert ModelVersion.objects.filter(name__contains="+dpo-").count() == 1
    assert run.state == "done" and not run.promoted
    assert not run.new_version.is_default
    assert not ModelVersion.objects.filter(is_default=True).exists()
    assert "worse than tiny-smollm2 on guardrail_violation_rate" in run.decision
    assert any("guardrail_violation_rate" in p for p in run.figures["gate"]["problems"])
    assert "Not promoted" in said
    event = AuditEvent.objects.get(action="retrain_not_promoted")
    assert event.data["retrain_id"] == run.pk and event.data["problems"]
    assert "model_promoted" not in _actions()


def test_the_decision_combines_the_gate_safety_quality_and_no_promote(tiny_model, staff):
    """The decision on stored figures, without training: the gate's own problems (a
    promoted default), a quality drop, and promotion turned off."""
    base = ModelVersion.objects.create(name="tiny-smollm2", base_model="tiny",
                                       is_default=True)
    new = ModelVersion.objects.create(name="tiny+dpo", base_model="tiny-smollm2")
    figures = {"rouge_l": 0.2, "citation_validity": 0.9, "guardrail_violation_rate": 0.0,
               "crisis_resource_inclusion": 1.0}
    worse = {**figures, "rouge_l": 0.1, "citation_validity": 0.5}
    EvaluationRun.objects.create(model_version=base, eval_set="s", data_sha256="d",
                                 metrics=figures)
    EvaluationRun.objects.create(model_version=new, eval_set="s", data_sha256="d",
                                 metrics=worse)
    assert retrain.decision_problems(new, worse, figures, "tiny-smollm2") == [
        "worse than tiny-smollm2 on citation_validity 0.9 -> 0.5",
        "lower quality than tiny-smollm2 on rouge_l 0.2 -> 0.1"]
    # The gate reads the stored evaluations even when the figures given agree.
    assert retrain.decision_problems(new, figures, figures, "tiny-smollm2") == [
        "worse than tiny-smollm2 on citation_validity 0.9 -> 0.5"]

    EvaluationRun.objects.create(model_version=new, eval_set="s", data_sha256="d",
                                 metrics=figures)
    options = {**retrain.RetrainOptions().as_json(), "promote": False}
    run = RetrainRun.objects.create(
        requested_by=staff, requested_by_label="ada", options=options, state="running",
        base_version="tiny-smollm2", new_version=new, figures={"evaluation": {
            "baseline": {"version": "tiny-smollm2", "metrics": figures},
            "candidate": {"version": "tiny+dpo", "metrics": figures}}})
    retrain._decide_step(run, None)
    run.refresh_from_db()
    assert run.state == "done" and not run.promoted
    assert run.decision.startswith("Not promoted: promotion was turned off.")
    assert "passed the gate" in run.decision
    assert ModelVersion.objects.get(is_default=True) == base


def test_bad_requests_are_refused(tiny_model, staff, counsellor, eval_set, tmp_path):
    with pytest.raises(CommandError, match="may not export"):
        call_command("retrain", "--user", counsellor.username, "--eval-set", str(eval_set),
                     stdout=io.StringIO())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": "x"}\n')
    with pytest.raises(CommandError, match="Not a held-out SFT set"):
        call_command("retrain", "--user", "ada", "--eval-set", str(bad), stdout=io.StringIO())
    with pytest.raises(CommandError, match="Crisis questions"):
        call_command("retrain", "--user", "ada", "--risk-levels", "high",
                     "--eval-set", str(eval_set), stdout=io.StringIO())
    with pytest.raises(ValidationError, match="KTO needs a batch size"):
        retrain.check_retrain_options({"method": "kto", "eval_set": str(eval_set),
                                       "hyperparameters": {"batch_size": 1}})
    with pytest.raises(ValidationError, match="max_steps must be a whole number"):
        retrain.check_retrain_options({"eval_set": str(eval_set),
                                       "hyperparameters": {"max_steps": 1.5}})
    assert not RetrainRun.objects.exists()


def test_an_export_with_nothing_to_train_on_fails_clearly_and_one_runs_at_a_time(
        tiny_model, staff, eval_set):
    with pytest.raises(CommandError, match="holds no DPO training rows"):
        _retrain(eval_set)
    run = RetrainRun.objects.get()
    assert run.state == "failed" and run.step == "train"
    assert "nothing to train on" in run.error
    assert AuditEvent.objects.filter(action="retrain_failed").exists()

    options = retrain.check_retrain_options({"eval_set": str(eval_set)})
    retrain.do_request_retrain(staff, options, queue=False)
    with pytest.raises(ValidationError, match="one runs at a time"):
        retrain.do_request_retrain(staff, options, queue=False)


@pytest.mark.urls("tests.test_retrain")
def test_the_staff_page_starts_a_run_and_shows_progress_figures_and_the_plot(
        tiny_model, staff, counsellor, eval_set, client, django_capture_on_commit_callbacks,
        monkeypatch):
    queued = []
    monkeypatch.setattr("psyconsole.exports.tasks.run_retrain.delay", queued.append)
    client.force_login(counsellor)
    assert client.get("/console/retrain/", HTTP_HOST="localhost").status_code == 403
    client.force_login(staff)
    page = client.get("/console/retrain/", HTTP_HOST="localhost")
    assert page.status_code == 200 and b'name="method"' in page.content

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/console/retrain/", {
            "method": "dpo", "max_steps": "2", "eval_set": "sft_heldout.jsonl",
            "eval_limit": "4", "promote": "on", "risk_levels": ["none", "low"]},
            HTTP_HOST="localhost")
    run = RetrainRun.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/console/retrain/{run.pk}/"
    assert queued == [run.pk]
    assert run.options["hyperparameters"] == {"max_steps": 2}
    assert run.options["filters"]["risk_levels"] == ["none", "low"]
    polled = client.get(f"/console/retrain/{run.pk}/", HTTP_HOST="localhost",
                        HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in polled.content and b"<progress" in polled.content

    # A finished run: figures side by side, and quality across versions.
    for name, rouge in (("tiny-smollm2", 0.1), ("tiny+dpo-r1", 0.3)):
        version = ModelVersion.objects.create(name=name, base_model="tiny")
        stored = EvaluationRun.objects.create(
            model_version=version, eval_set="sft_heldout.jsonl", data_sha256="d",
            metrics={"rouge_l": rouge, "citation_validity": 0.5,
                     "guardrail_violation_rate": 0.0})
    RetrainRun.objects.filter(pk=run.pk).update(
        state="done", step="done", progress=100, new_version=version,
        decision="Promoted tiny+dpo-r1: no worse.", figures={"evaluation": {
            "eval_set": "sft_heldout.jsonl",
            "baseline": {"version": "tiny-smollm2", "metrics": {"rouge_l": 0.1}},
            "candidate": {"version": "tiny+dpo-r1", "metrics": stored.metrics}}})
    done = client.get(f"/console/retrain/{run.pk}/", HTTP_HOST="localhost")
    assert b"hx-trigger" not in done.content and b"Promoted tiny+dpo-r1" in done.content
    assert b"<td>0.1</td>" in done.content and b"<td>0.3</td>" in done.content
    listing = client.get("/console/retrain/", HTTP_HOST="localhost").content.decode()
    assert "<svg" in listing and "<polyline" in listing and "tiny+dpo-r1" in listing
    assert "<table" in listing  # the text fallback of the plot
