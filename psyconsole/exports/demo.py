"""Reviewed, annotated replies for the demo, so that an export and the retraining loop
can be tried at once (`seed_demo`).

Each item of `fixtures/demo_reviews.jsonl` (written for the project, never evaluation
data) goes through the real path a live question takes: intake and screening; a draft
stored with the exact drafting prompt the model would have been sent (the question's own
retrieved passages); a counsellor's claim, edit and approval, through the final-text
check; the counsellor's rubric; and, for some, a supervisor's audit. Only the model's
writing is replayed from the file, so seeding takes seconds, not an hour of drafting.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from inference.drafting import ComposedDraft, crisis_block
from inference.prompts import build_messages
from psyconsole.questions import states
from psyconsole.questions.models import Status
from psyconsole.questions.services import audit, drafting, intake, review
from psyconsole.questions.services.annotation import do_annotate
from psyconsole.questions.states import TransitionError
from retrieval.jsonl import read_jsonl
from retrieval.service import search

DEMO_REVIEWS = Path(settings.BASE_DIR) / "fixtures" / "demo_reviews.jsonl"
AUDIT_EVERY = 3  # every third seeded reply is audited, so "audited only" has data


def seed_reviewed_replies(counsellor: AbstractBaseUser, supervisor: AbstractBaseUser,
                          path: Path = DEMO_REVIEWS) -> int:
    """Seeds every item of `path`; returns how many became approved, annotated replies."""
    from inference.versions import active_spec

    model_name = active_spec().name
    seeded = 0
    for number, item in read_jsonl(path):
        question = intake.do_submit_question(item["question"], background=True).question
        if question.is_crisis:
            # Screened high or above (a false alarm on these everyday questions, or a
            # level the screener now reads differently): a crisis reply is the vetted
            # template, not demo data, so the question is left for a counsellor.
            continue
        lease = timezone.now() + timedelta(seconds=settings.DRAFT_LEASE_SECONDS)
        try:
            states.start_drafting(question, states.WORKER, lease,
                                  from_states={Status.SCREENED})
        except TransitionError:
            continue  # a running worker took it first: it gets a real draft instead
        passages = search(item["question"], settings.RETRIEVAL_TOP_K)
        draft, final = item["draft"], item["final"]
        if question.is_risky:
            # Screened moderate or above (the screener decides, not the file): the draft
            # carries the crisis resources, as post-processing adds them, and so must the
            # counsellor's reply, or the final-text check stops it.
            draft, final = (f"{text}\n\n{crisis_block()}" for text in (draft, final))
        drafting.do_store_drafts(question, lease, [ComposedDraft(
            text=draft, raw_text=item["draft"],
            messages=build_messages(item["question"], passages), passages=passages,
            model_name=model_name, engine="demo")])
        review.do_claim(question, counsellor)
        approved = review.do_approve(question, counsellor, final)
        do_annotate(approved, counsellor, tags=item.get("tags", []),
                    note=item.get("note", ""), **item["rubric"])
        if number % AUDIT_EVERY == 0:
            audit.do_audit(approved, supervisor, "Seeded for the demo.")
        seeded += 1
    return seeded
