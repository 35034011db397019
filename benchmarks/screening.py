"""Intake screening latency, measured in one run: the rule layer alone (the baseline)
against the full screener (rules plus the fine-tuned classifier), one message at a time
as intake screens them, over the dev set's messages.

    PSY_HTTPS=0 .venv/bin/python benchmarks/screening.py [--messages 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psyconsole.settings")
os.environ.setdefault("PSY_HTTPS", "0")


def timings(function, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        function(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    import django

    django.setup()
    from psyconsole.screening import classifier, screen
    from psyconsole.screening.data import FIXTURES, read_jsonl
    from psyconsole.screening.rules import rule_level

    if classifier.get_model() is None:
        sys.exit("No trained screener: run manage.py train_screener first.")
    texts = [r.text for r in read_jsonl(FIXTURES / "dev.jsonl")][:args.messages]
    screen("warm up")
    rules_ms = timings(rule_level, texts)
    full_ms = timings(screen, texts)
    print(f"# Screening latency, {len(texts)} messages, one at a time")
    print("| setup | median ms | 95th percentile ms | vs rules alone |")
    print("|---|---:|---:|---:|")
    for name, values in (("rules alone (baseline)", rules_ms),
                         ("rules + fine-tuned classifier (intake)", full_ms)):
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"| {name} | {median:.2f} | {p95:.2f} | "
              f"{median / statistics.median(rules_ms):.1f}x |")


if __name__ == "__main__":
    main()
