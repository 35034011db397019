"""The learned layer: logistic regression on MiniLM sentence embeddings.

It reads meaning that no pattern lists ("everyone would be better off if I just wasn't
around"). Its output is turned into a level with thresholds on cumulative probability,
P(level or above), chosen on cross-validated training predictions; the rule layer and
this layer are combined by taking the higher level. The thresholds are chosen for the
combination: the classifier must catch the risky messages the rules miss, and no more,
so it does not raise false alarms on messages the rules already read correctly.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from psyconsole.screening.levels import LEVELS, RANK

# P(level or above) needed to call a message that level (none needs nothing).
DEFAULT_THRESHOLDS = {"low": 0.5, "moderate": 0.4, "high": 0.3, "imminent": 0.5}


@dataclass
class ScreeningModel:
    coef: np.ndarray  # (levels, dimension)
    intercept: np.ndarray  # (levels,)
    thresholds: dict[str, float]
    meta: dict[str, object]

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def level(self, probabilities: np.ndarray) -> tuple[str, float]:
        """The highest level whose cumulative probability clears its threshold."""
        at_least = np.cumsum(probabilities[::-1])[::-1]  # P(level or above)
        chosen = "none"
        for level in LEVELS[1:]:
            if at_least[RANK[level]] >= self.thresholds[level]:
                chosen = level
        return chosen, float(probabilities[RANK[chosen]])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, coef=self.coef, intercept=self.intercept,
                 meta=json.dumps({**self.meta, "thresholds": self.thresholds}))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ScreeningModel:
        data = np.load(path)
        meta = json.loads(str(data["meta"]))
        return cls(data["coef"], data["intercept"], meta.pop("thresholds"), meta)


def model_path() -> Path:
    return Path(settings.SCREENER_MODEL_PATH)


_lock = threading.Lock()
_cache: dict[str, tuple[float, ScreeningModel]] = {}


def get_model() -> ScreeningModel | None:
    """The trained model, reloaded when its file changes; None if none is trained."""
    path = model_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    with _lock:
        cached = _cache.get(str(path))
        if cached is None or cached[0] != mtime:
            _cache[str(path)] = (mtime, ScreeningModel.load(path))
        return _cache[str(path)][1]


def train(texts: list[str], levels: list[str], *, progress: bool = False
          ) -> tuple[ScreeningModel, dict[str, float]]:
    """Fits the classifier and picks thresholds from 5-fold cross-validated predictions:
    the strictest thresholds at which rules and classifier together still keep crisis
    recall and ideation recall at their targets on held-out folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from psyconsole.screening.service import rule_level
    from retrieval.embeddings import embed

    vectors = embed(texts, progress=progress)
    y = np.array([RANK[level] for level in levels])

    def fit() -> LogisticRegression:
        return LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")

    cv = cross_val_predict(fit(), vectors, y, cv=5, method="predict_proba")
    rule_ranks = np.array([RANK[rule_level(text)] for text in texts])
    thresholds = choose_thresholds(cv, y, rule_ranks,
                                   crisis_recall=settings.SCREENING_CRISIS_RECALL_TARGET,
                                   ideation_recall=settings.SCREENING_IDEATION_RECALL_TARGET)
    final = fit().fit(vectors, y)
    coef = np.zeros((len(LEVELS), vectors.shape[1]), dtype="float32")
    intercept = np.full(len(LEVELS), -1e9, dtype="float32")
    for row, label in enumerate(final.classes_):
        coef[label], intercept[label] = final.coef_[row], final.intercept_[row]
    model = ScreeningModel(coef, intercept, thresholds,
                           {"examples": len(texts), "embedding": "all-MiniLM-L6-v2"})
    return model, thresholds


def choose_thresholds(probabilities: np.ndarray, y: np.ndarray,
                      rule_ranks: np.ndarray | None = None,
                      crisis_recall: float = 0.98, ideation_recall: float = 0.95
                      ) -> dict[str, float]:
    """For high and moderate: the largest threshold at which the rules (`rule_ranks`, the
    rank the rules alone give each message) and the classifier together still catch
    `target` of the true cases."""
    at_least = np.cumsum(probabilities[:, ::-1], axis=1)[:, ::-1]
    if rule_ranks is None:
        rule_ranks = np.zeros(len(y), dtype=int)
    thresholds = dict(DEFAULT_THRESHOLDS)
    for level, target in (("high", crisis_recall), ("moderate", ideation_recall)):
        rank = RANK[level]
        positives = y >= rank
        if not positives.any():
            continue
        needed = int(np.ceil(target * positives.sum())) - int(
            (rule_ranks[positives] >= rank).sum())
        missed_by_rules = np.sort(at_least[positives & (rule_ranks < rank), rank])[::-1]
        if needed <= 0 or not len(missed_by_rules):
            thresholds[level] = 0.9
        else:
            thresholds[level] = float(np.clip(
                missed_by_rules[min(needed, len(missed_by_rules)) - 1], 0.02, 0.9))
    return thresholds
