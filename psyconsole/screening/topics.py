"""Multi-label topics from the corpus taxonomy, for queue filters and retrieval."""

from __future__ import annotations

import re

TOPIC_PATTERNS = {
    "anxiety": r"anxi\w*|nervous|on edge|worried sick|social anxiety",
    "panic": r"panic|heart (?:races|racing|pounding|pounds)|can'?t breathe|going to faint",
    "worry": r"worr\w+|overthink\w*|what if",
    "low-mood": r"depress\w*|low mood|feel(?:ing)? (?:so |really )?(?:low|down|empty|numb)|"
                r"sad|hopeless|no motivation|can'?t get out of bed",
    "stress": r"stress\w*|overwhelm\w*|pressure",
    "burnout": r"burn(?:ed|t)? ?out|exhausted|running on empty",
    "work": r"\bwork\b|job|boss|colleague|shifts?|office|career",
    "exams": r"exams?|revision|revise|uni(?:versity)?|school|college|grades|finals",
    "sleep": r"sleep|insomnia|awake at night|nightmares?|tired all the time",
    "grief": r"grie\w+|died|passed away|bereave\w*|funeral|lost my (?:mum|mom|dad|"
             r"husband|wife|son|daughter|baby|brother|sister|friend|dog|cat)",
    "loneliness": r"lonely|loneliness|no friends|isolated|on my own|by myself all",
    "relationships": r"partner|boyfriend|girlfriend|husband|wife|relationship|break ?up|"
                     r"divorce|argu\w+|cheat\w*",
    "family": r"\bmum\b|\bmom\b|\bdad\b|parents?|family|brother|sister|in-laws",
    "parenting": r"my (?:son|daughter|kids?|child|children|toddler|teen\w*)|parenting",
    "self-esteem": r"worthless|hate myself|not good enough|ugly|failure|confidence",
    "anger": r"angry|anger|rage|temper|lose it|snap at",
    "trauma": r"trauma\w*|flashbacks?|assault\w*|abuse\w*|attacked|accident",
    "obsessive-thoughts": r"intrusive thoughts?|obsess\w*|checking|compulsi\w+|rituals?",
    "eating": r"eating|food|binge\w*|purg\w+|starv\w+|weight|calories",
    "alcohol": r"drink\w*|alcohol|drunk|booze|wine|beer|vodka",
    "drugs": r"drugs?|weed|cannabis|cocaine|pills to get high|using again|high every",
    "self-harm": r"self[- ]?har\w+|cut(?:ting)? (?:my ?self|my arms?)|hurt(?:ing)? myself",
    "suicidal-thoughts": r"suic\w+|kill(?:ing)? myself|kms|unalive|end(?:ing)? my life|"
                         r"want to die|better off dead|not wake up|quiero morir|"
                         r"je veux mourir",
    "perinatal": r"pregnan\w+|baby|newborn|birth|postnatal|postpartum|maternity",
    "caring": r"carer|caring for|look(?:ing)? after (?:my )?(?:mum|mom|dad|husband|wife)|"
              r"dementia",
    "therapy": r"therap\w+|counsell?\w+|psycholog\w+|\bgp\b|doctor",
    "health": r"illness|pain|diagnos\w+|hospital|health|sick",
    "identity": r"gay|lesbian|bi(?:sexual)?|trans\b|queer|coming out|racis\w+",
    "money": r"money|debt|bills|rent|afford|broke\b",
}
_COMPILED = {topic: re.compile(rf"\b(?:{p})", re.IGNORECASE) for topic, p in
             TOPIC_PATTERNS.items()}


def topics_for(text: str, limit: int = 4) -> list[str]:
    counts = {topic: len(p.findall(text)) for topic, p in _COMPILED.items()}
    found = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    return found[:limit]
