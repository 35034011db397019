"""Article-level retrieval metrics on a labelled question set.

Each question lists the articles that answer it. recall@5 is the share of questions
with at least one answering article in the top 5 articles; MRR@10 averages 1/rank of
the first answering article in the top 10. The stricter all-relevant recall@5 is the
mean share of each question's listed articles found in the top 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from retrieval import jsonl
from retrieval.service import search


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    question: str
    relevant: tuple[str, ...]


def load_set(path: Path) -> list[LabelledQuestion]:
    items = []
    for number, row in jsonl.read_jsonl(path):
        try:
            items.append(LabelledQuestion(str(row["id"]), str(row["question"]),
                                          tuple(row["relevant"])))
        except (KeyError, TypeError) as exc:
            raise jsonl.line_error(path, number, exc) from exc
    return items


def ranked_articles(question: str, *, depth: int = 10, keyword_weight: float | None = None
                    ) -> list[str]:
    """Articles in the order their best chunk ranks, `depth` of them at most."""
    return [p.article_slug for p in search(question, k=depth, keyword_weight=keyword_weight,
                                           max_per_article=1)]


@dataclass
class Report:
    questions: int = 0
    recall_at_5: float = 0.0
    all_relevant_recall_at_5: float = 0.0
    mrr_at_10: float = 0.0
    misses: list[dict[str, object]] = field(default_factory=list)


def evaluate(items: list[LabelledQuestion], *, keyword_weight: float | None = None,
             progress: bool = True) -> Report:
    full = hits = reciprocal = 0.0
    report = Report(questions=len(items))
    for item in tqdm(items, desc="Evaluating retrieval", disable=not progress):
        ranking = ranked_articles(item.question, keyword_weight=keyword_weight)
        relevant = set(item.relevant)
        top5 = set(ranking[:5])
        full += len(relevant & top5) / len(relevant)
        hits += bool(relevant & top5)
        rank = next((i for i, slug in enumerate(ranking, start=1) if slug in relevant), None)
        reciprocal += 1 / rank if rank else 0.0
        if not relevant & top5:
            report.misses.append({"id": item.id, "relevant": list(item.relevant),
                                  "got": ranking[:5]})
    n = max(len(items), 1)
    report.recall_at_5 = round(hits / n, 4)
    report.all_relevant_recall_at_5 = round(full / n, 4)
    report.mrr_at_10 = round(reciprocal / n, 4)
    return report
