"""A question whose client text and contact have been copied everywhere they can be:
drafts' prompts, an edit, a risk override's screening label, a blocked and an
overridden approval (guardrail findings), and an export file. For the erasure tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

MARKER = "Zebracorn77"
TEXT = f"{MARKER} here. I cannot sleep before my exams and I keep worrying all night."
CONTACT = "07700 900461"
IDEMPOTENCY_KEY = f"key-{MARKER}"
# The reply quotes the client's number, so the guardrails block it and quote it back.
REPLY = (f"Thank you for writing about {MARKER}'s exams. A wind-down routine can help. "
         f"We could call you on {CONTACT} if you like.")
OVERRIDE = "The client asked to be called back on the number they gave us."


def make_question_copied_everywhere(counsellor: Any) -> Any:
    from inference.models import ModelVersion
    from psyconsole.exports.models import Export
    from psyconsole.questions import states
    from psyconsole.questions.models import Draft, Status
    from psyconsole.questions.services import intake, review

    question = intake.do_submit_question(TEXT, CONTACT, IDEMPOTENCY_KEY).question
    states.transition(question, Status.DRAFTING, states.WORKER)
    version, _ = ModelVersion.objects.get_or_create(name="test-model",
                                                    defaults={"base_model": "test"})
    Draft.objects.create(
        question=question, model_version=version, text=f"About {MARKER}: try a routine.",
        raw_text=f"About {MARKER}: try a routine.",
        prompt=[{"role": "system", "content": "You draft replies."},
                {"role": "user", "content": f"<client>{TEXT}</client>"}],
        prompt_version="test", instruction=f"mention {MARKER}",
        findings=[{"rule": "x", "severity": "info", "detail": "", "excerpt": MARKER}],
        passages=[{"chunk_id": 1, "score": 0.5, "url": "/corpus/sleep/", "text": "..."}],
    )
    question = states.transition(question, Status.DRAFTED, states.WORKER)
    review.do_claim(question, counsellor)
    review.do_override_risk(question, counsellor, "moderate",
                            "Worry every night for weeks: more than the screener saw.")
    review.do_save_edit(question, counsellor, REPLY)
    # Blocked first (audited as approval_blocked), as a counsellor would meet it.
    try:
        review.do_approve(question, counsellor, REPLY)
    except review.ReplyBlocked:
        pass_blocked = True
    else:
        pass_blocked = False
    assert pass_blocked, "the guardrails were meant to block a reply quoting the number"
    review.do_approve(question, counsellor, REPLY, OVERRIDE)

    directory = Path(settings.EXPORT_DIR) / "export-00001"
    (directory / "sft").mkdir(parents=True)
    (directory / "sft" / "train.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": TEXT}]}) + "\n")
    Export.objects.create(requested_by_label="admin", state=Export.State.DONE,
                          directory=str(directory), finished_at=timezone.now())
    question.refresh_from_db()
    return question
