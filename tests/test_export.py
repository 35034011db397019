"""`manage.py export`, the staff page and the API: one service that writes TRL's formats,
split by question, scrubbed of PII, without evaluation questions, audited and guarded."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from psyconsole.exports import service
from psyconsole.exports.models import Export
from psyconsole.questions import roles
from psyconsole.questions.models import AuditEvent, Question
from psyconsole.questions.services.review import do_approve, do_claim
from psyconsole.screening.levels import PRIORITY
from tests.factories import JsonClient, make_drafted_question, make_user

pytestmark = pytest.mark.django_db

DRAFT = "A draft reply [1]."
REWRITTEN = ("Thank you for telling me how hard the nights before exams have been. Try "
             "winding down for half an hour before bed, and keep the same wake-up time "
             "every day [1]. If it goes on for weeks, your GP can help.")


@pytest.fixture
def staff(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    return make_user("ada", roles.ADMIN)


def approved(counsellor, text: str = "I can't sleep before exams.", final: str = DRAFT,
             level: str | None = None) -> Question:
    question = make_drafted_question(text)
    if level is not None:  # test setup: pin the risk level
        Question.objects.filter(pk=question.pk).update(risk_level=level,
                                                       priority=PRIORITY[level])
    do_claim(question, counsellor)
    # A crisis reply here is test data, not the crisis template: approved over its checks.
    override = "Test data: a crisis reply stands in for the template." if level else None
    do_approve(question, counsellor, final, override_reason=override)
    question.refresh_from_db()
    return question


def export(user, **filters) -> Export:
    chosen = service.check_export_filters(filters)
    return service.do_run_export(service.do_request_export(user, chosen, queue=False).pk)


def rows(done: Export, path: str) -> list[dict]:
    file = Path(done.directory) / path
    return [json.loads(line) for line in file.read_text().splitlines()]


def all_rows(done: Export, fmt: str) -> list[dict]:
    return rows(done, f"{fmt}/train.jsonl") + rows(done, f"{fmt}/validation.jsonl")


def test_sft_holds_the_exact_drafting_prompt_and_the_approved_reply(staff, counsellor):
    question = approved(counsellor, final=REWRITTEN)
    done = export(staff)
    [record] = all_rows(done, "sft")
    draft = question.drafts.get()
    assert record["messages"][:-1] == draft.prompt
    assert record["messages"][-1] == {"role": "assistant", "content": REWRITTEN}


def test_a_materially_changed_draft_is_the_rejected_side_of_a_dpo_pair(staff, counsellor):
    approved(counsellor, "I can't sleep before exams.", final=REWRITTEN)
    approved(counsellor, "Exams make me so tense.", final=DRAFT + " ")  # unchanged
    done = export(staff)
    [pair] = all_rows(done, "dpo")
    assert pair["chosen"][0]["content"] == REWRITTEN
    assert pair["rejected"][0]["content"] == DRAFT
    labels = sorted(r["label"] for r in all_rows(done, "kto"))
    assert labels == [False, True, True]  # two approved replies, one changed draft


def test_crisis_questions_are_left_out_unless_asked_for(staff, counsellor):
    approved(counsellor, "I can't sleep before exams.")
    approved(counsellor, "Exams again, and I feel awful.", level="high")
    assert export(staff).manifest["counts"]["reviews_exported"] == 1
    assert export(staff, include_crisis=True,
                  risk_levels=["low", "high"]).manifest["counts"]["reviews_exported"] == 2
    with pytest.raises(Exception, match="include_crisis"):
        service.check_export_filters({"risk_levels": ["high"]})


def test_splits_are_by_question_and_the_same_in_every_export(staff, counsellor):
    questions = [approved(counsellor, f"Question number {i} about sleep and worry.")
                 for i in range(12)]
    first, second = export(staff), export(staff)
    for q in questions:
        assert service.split_of(q.pk) == service.split_of(q.pk)
    assert ({p: f["sha256"] for p, f in first.manifest["files"].items()}
            == {p: f["sha256"] for p, f in second.manifest["files"].items()})
    splits = {service.split_of(question_id) for question_id in range(1, 400)}
    assert splits == {"train", "validation"}


def test_questions_that_repeat_an_evaluation_question_are_left_out(staff, counsellor):
    evaluation = json.loads((Path(__file__).parent.parent / "fixtures" / "eval"
                             / "retrieval.jsonl").read_text().splitlines()[0])["question"]
    approved(counsellor, "Hello, " + evaluation)
    approved(counsellor, "I can't sleep before exams.")
    counts = export(staff).manifest["counts"]
    assert counts["reviews_exported"] == 1
    assert counts["left_out"] == {"near-duplicate of an evaluation question": 1}


def test_personal_data_is_replaced_by_typed_placeholders(staff, counsellor):
    approved(counsellor, "My name is Priya Sharma, email priya.sharma@example.com. I "
                         "can't sleep before exams.",
             final="Dear Priya, thank you for writing. " + REWRITTEN)
    done = export(staff)
    text = json.dumps(all_rows(done, "sft"))
    assert "priya.sharma@example.com" not in text and "Priya" not in text
    assert "<EMAIL>" in text and "<PERSON>" in text
    assert "sleep" in text  # the rest is kept
    assert "(README.md)" not in done.manifest  # the card is a file, not a manifest entry
    card = (Path(done.directory) / "README.md").read_text()
    assert "EMAIL" in card and "PERSON" in card


def test_it_needs_the_export_permission(settings, tmp_path, counsellor, supervisor):
    settings.EXPORT_DIR = tmp_path
    for user in (counsellor, supervisor):
        with pytest.raises(PermissionDenied):
            service.do_request_export(user, service.ExportFilters(), queue=False)
        client = JsonClient()
        client.force_login(user)
        assert client.post_json("/api/v1/console/exports", {}).status_code == 403
        assert client.get("/console/exports/").status_code == 403
    assert not Export.objects.exists()


def test_requests_and_downloads_are_audited(staff, counsellor):
    approved(counsellor)
    done = export(staff)
    client = JsonClient()
    client.force_login(staff)
    response = client.get(f"/api/v1/console/exports/{done.pk}/files/sft/train.jsonl")
    page = client.get(f"/console/exports/{done.pk}/files/sft/validation.jsonl")
    assert response.status_code == 200 and page.status_code == 200
    actions = list(AuditEvent.objects.filter(actor=staff).values_list("action", flat=True))
    assert actions.count("export_requested") == 1 and "export_written" in actions
    assert actions.count("export_downloaded") == 2


def test_the_api_refuses_bad_filters_with_a_clear_422(staff):
    client = JsonClient()
    client.force_login(staff)
    for body in ({"formats": ["csv"]}, {"since": "yesterday"}, {"risk_levels": ["imminent"]},
                 {"min_ratings": {"overall": 9}}, {"audited_only": "yes"}):
        response = client.post_json("/api/v1/console/exports", body)
        assert response.status_code == 422, body
    assert client.post_json("/api/v1/console/exports", "[1, 2]").status_code in (400, 422)
    assert not Export.objects.exists()


def test_the_command_writes_a_manifest_and_a_card(staff, counsellor):
    approved(counsellor, final=REWRITTEN)
    out = io.StringIO()
    call_command("export", "--user", "ada", "--json", stdout=out)
    manifest = json.loads(out.getvalue())
    directory = Path(Export.objects.get().directory)
    for path, info in manifest["files"].items():
        assert (directory / path).exists()
        assert len(info["sha256"]) == 64
    assert manifest["counts"]["reviews_exported"] == 1
    assert (directory / "README.md").read_text().startswith("---\nconfigs:")


def test_each_format_loads_with_datasets_and_passes_trl_preprocessing(
        staff, counsellor, tiny_model, tmp_path):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

    for i in range(4):
        approved(counsellor, f"Exam number {i} keeps me up at night.", final=REWRITTEN)
    done = export(staff)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    common = {"output_dir": str(tmp_path / "out"), "max_steps": 1, "report_to": [],
              "per_device_train_batch_size": 2, "use_cpu": True, "save_strategy": "no"}
    trainers = {"sft": (SFTTrainer, SFTConfig), "dpo": (DPOTrainer, DPOConfig),
                "kto": (KTOTrainer, KTOConfig)}
    for fmt, (trainer_class, config_class) in trainers.items():
        data = load_dataset(str(done.directory), fmt)
        train = data["train"] if len(data["train"]) else data["validation"]
        trainer = trainer_class(model=model, args=config_class(**common),
                                train_dataset=train, processing_class=tokenizer)
        assert len(trainer.train_dataset) == len(train)
        assert any(name.endswith("_ids") for name in trainer.train_dataset.column_names)
        assert trainer.train().global_step == 1, fmt
