"""screen(text): the one entry point used by intake, the batch command and evaluation."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from psyconsole.screening import classifier, rules
from psyconsole.screening.levels import PRIORITY, RANK, highest, is_crisis
from psyconsole.screening.topics import topics_for

logger = logging.getLogger(__name__)

# What the counsellor must know about a factor beyond its name.
FACTOR_NOTES = {
    "third_party_emergency": "Someone else is at acute risk now. This is not the writer's "
                             "own risk: help them get emergency help for that person at once.",
    "method_seeking": "The writer asks about a method or amount. Read as at least high risk, "
                      "whatever else the message says.",
}


@dataclass(frozen=True)
class RiskFactor:
    factor: str
    level: str
    evidence: str
    start: int
    end: int
    source: str = "rules"
    note: str = ""


@dataclass(frozen=True)
class ScreeningResult:
    risk_level: str
    priority: int
    confidence: float
    factors: list[RiskFactor] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    rule_level: str = "none"
    classifier_level: str | None = None

    @property
    def is_crisis(self) -> bool:
        return is_crisis(self.risk_level)

    def factors_as_json(self) -> list[dict[str, object]]:
        return [asdict(f) for f in self.factors]


def screen(text: str) -> ScreeningResult:
    hits = rules.find(text)
    rule_level = rules.level_of(hits)
    model = classifier.get_model()
    model_level, confidence = None, 0.9 if hits else 0.6
    if model is not None:
        probabilities = model.probabilities([text])[0]
        model_level, confidence = model.level(probabilities)
    level = highest(rule_level, model_level or "none")  # either layer can raise it
    factors = [RiskFactor(h.factor, h.level, h.evidence, h.start, h.end,
                          note=FACTOR_NOTES.get(h.factor, "")) for h in hits]
    if model_level and RANK[model_level] > RANK[rule_level]:
        factors.append(RiskFactor("classifier", model_level, text[:120], 0,
                                  min(len(text), 120), source="classifier"))
    return ScreeningResult(level, PRIORITY[level], round(confidence, 3), factors,
                           topics_for(text), rule_level, model_level)
