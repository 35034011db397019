"""manage.py draft_preference_pairs: one round of preference data without a console.

For every record of an SFT set (the drafting prompt and a counsellor's reference reply),
the active model drafts a reply to the exact prompt, post-processed as the worker does,
and the pair is written in TRL's DPO format: the reference reply chosen, the model's
draft rejected. Pairs whose draft already matches the reference closely are skipped.
Resumable: records already in --out are not drafted again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inference.backends import get_backend
from inference.drafting import post_process
from inference.sft_data import (
    DataError,
    load_records,
    passage_from_dict,
    prompt_messages,
    reference_reply,
)
from inference.versions import active_spec, resolve_version

MIN_EDIT_SHARE = 0.2  # as PSY_EXPORT_MATERIAL_EDIT: a near-identical draft is no rejection


def _word_edit_share(a: str, b: str) -> float:
    from difflib import SequenceMatcher

    return 1.0 - SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


class Command(BaseCommand):
    help = ("Drafts a reply for each record of an SFT set with the active (or --model) "
            "version and writes DPO pairs: the reference reply chosen, the draft rejected.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", type=Path, required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--model", default="", help="a registered version name")
        parser.add_argument("--limit", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=8)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            records = load_records(options["data"])
        except DataError as exc:
            raise CommandError(str(exc)) from exc
        if options["limit"]:
            records = records[:options["limit"]]
        spec = resolve_version(options["model"]).spec if options["model"] else active_spec()
        out: Path = options["out"]
        done = set()
        if out.exists():
            done = {json.loads(line)["id"] for line in out.read_text().splitlines() if line}
        todo = [r for r in records if r.get("id") not in done]
        backend = get_backend(spec)
        written = skipped = 0
        size = options["batch_size"]
        with out.open("a", encoding="utf-8") as handle, tqdm(total=len(todo),
                                                             desc="Drafting") as bar:
            for start in range(0, len(todo), size):
                batch = todo[start:start + size]
                generations = backend.generate_batch(
                    [prompt_messages(r) for r in batch],
                    max_new_tokens=settings.LLM_MAX_NEW_TOKENS,
                    max_seconds=settings.LLM_MAX_SECONDS, on_text=[None] * len(batch),
                    should_stop=[None] * len(batch))
                for record, generation in zip(batch, generations, strict=True):
                    passages = [passage_from_dict(p) for p in record.get("passages", [])]
                    draft, _ = post_process(generation.text, passages, risky=False)
                    chosen = reference_reply(record)
                    share = _word_edit_share(draft, chosen)
                    if share < MIN_EDIT_SHARE:
                        skipped += 1
                    handle.write(json.dumps({
                        "id": record.get("id"), "prompt": prompt_messages(record),
                        "chosen": [{"role": "assistant", "content": chosen}],
                        "rejected": [{"role": "assistant", "content": draft}],
                        "edit_share": round(share, 3), "model": spec.name,
                    }, ensure_ascii=False) + "\n")
                    written += 1
                handle.flush()
                bar.update(len(batch))
        self.stdout.write(f"{written} pairs drafted into {out} ({skipped} with a draft "
                          f"within {MIN_EDIT_SHARE:.0%} of the reference).")
