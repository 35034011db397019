"""Intake risk screening: a plain, transparent rule set that runs without any model.

This is deliberately simple (the triage work replaces it with a rule layer plus an
embedding classifier). It must never depend on the drafting worker: intake calls it
synchronously, so a crisis question is flagged even when every worker is down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psyconsole.questions.models import RiskLevel

PRIORITY = {
    RiskLevel.IMMINENT: 100,
    RiskLevel.HIGH: 80,
    RiskLevel.MODERATE: 50,
    RiskLevel.LOW: 20,
    RiskLevel.NONE: 10,
}

_NEGATION = re.compile(
    r"\b(never|not|n't|no longer|wouldn't|won't|don't|didn't)\b[^.!?]{0,25}$", re.IGNORECASE
)

# (level, factor, pattern). Each pattern is checked per sentence.
RULES: list[tuple[RiskLevel, str, re.Pattern[str]]] = [
    (RiskLevel.IMMINENT, "plan", re.compile(
        r"\b(tonight|today|right now|this (evening|weekend))\b.{0,60}\b(end it|kill myself|"
        r"suicide|take my (own )?life|die)\b|\b(end it|kill myself|take my (own )?life)\b.{0,60}"
        r"\b(tonight|today|right now)\b|\b(have|got|saved|bought) (the |a )?"
        r"(pills|rope|gun|means)\b.{0,40}\b(end|kill|die)|\bwrote (a|my) (suicide )?note\b",
        re.IGNORECASE)),
    (RiskLevel.HIGH, "ideation", re.compile(
        r"\b(kill(ing)? myself|suicid\w*|end(ing)? my life|take my (own )?life|kms|unalive|"
        r"want to die|wanna die|better off dead)\b", re.IGNORECASE)),
    (RiskLevel.HIGH, "self_harm", re.compile(
        r"\b(cut(ting)? myself|self[- ]?harm(ing)?|hurt(ing)? myself|burn(ing)? myself)\b",
        re.IGNORECASE)),
    (RiskLevel.HIGH, "harm_to_others", re.compile(
        r"\b(kill|hurt|stab|shoot) (him|her|them|someone|my (wife|husband|partner|boss))\b",
        re.IGNORECASE)),
    (RiskLevel.HIGH, "abuse", re.compile(
        r"\b(he|she|they) (hits|beats|chokes|threatens) me\b|\bnot safe at home\b",
        re.IGNORECASE)),
    (RiskLevel.MODERATE, "passive_ideation", re.compile(
        r"\b(wish i (was|were) dead|wish i could (just )?(disappear|not wake up)|"
        r"not wake up|no (point|reason) (in )?(living|going on)|can't go on|hopeless)\b",
        re.IGNORECASE)),
    (RiskLevel.MODERATE, "substance_use", re.compile(
        r"\b(drinking|drunk|high|using) (every (day|night)|to cope|to forget)\b",
        re.IGNORECASE)),
    (RiskLevel.LOW, "distress", re.compile(
        r"\b(anxious|anxiety|panic|stressed|stress|depressed|low mood|sad|lonely|can't sleep|"
        r"insomnia|overwhelmed|grief|grieving|burn(ed|t)? ?out|worthless|cry|crying|"
        r"can'?t sleep|died|passed away|heart (was |is )?pounding|argue|arguing|"
        r"feel(ing)? (so |really |very )?(low|down|empty|numb))\b",
        re.IGNORECASE)),
]

_SENTENCE = re.compile(r"[^.!?\n,;]+")


@dataclass(frozen=True)
class RiskFactor:
    factor: str
    level: str
    evidence: str
    start: int
    end: int


@dataclass(frozen=True)
class ScreeningResult:
    risk_level: str
    priority: int
    factors: list[RiskFactor] = field(default_factory=list)

    @property
    def is_crisis(self) -> bool:
        return self.risk_level in (RiskLevel.HIGH, RiskLevel.IMMINENT)

    def factors_as_json(self) -> list[dict[str, object]]:
        return [f.__dict__.copy() for f in self.factors]


_ORDER = list(PRIORITY)[::-1]  # none, low, moderate, high, imminent


def screen(text: str) -> ScreeningResult:
    factors: list[RiskFactor] = []
    for sentence in _SENTENCE.finditer(text):
        for level, factor, pattern in RULES:
            for match in pattern.finditer(sentence.group()):
                prefix = sentence.group()[: match.start()]
                if _NEGATION.search(prefix):
                    continue
                start = sentence.start() + match.start()
                factors.append(RiskFactor(factor, level, match.group(), start,
                                          sentence.start() + match.end()))
    level = max((RiskLevel(f.level) for f in factors), key=_ORDER.index,
                default=RiskLevel.NONE)
    return ScreeningResult(risk_level=level, priority=PRIORITY[level], factors=factors)
