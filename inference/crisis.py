"""Crisis-aware drafting, for questions screened high or imminent.

Contract: the caller says whether a question is a crisis (`plan_for(crisis, factors)`;
the screening decides what counts as one) and hands over the screening factors; this
module chooses the template and the crisis articles, retrieves from them only, and
composes and checks the crisis draft. It knows nothing of risk levels.

Design: a vetted template with a short model-written opening, not free generation.

- **Why.** The drafting model is a 135M-parameter model. Asked for a whole reply to "I
  have the pills in front of me", it has written "I'm so glad you're taking care of
  yourself tonight" and grounded the reply in articles about drinking and sleep. In a
  crisis the counsellor needs the same four things every time: an acknowledgement that
  does not minimise, a direct question about safety now, an urge to get help now
  (emergency services, a crisis line, someone to be with them) and a line on putting
  distance between the person and any means, without method detail. A model this size
  cannot be relied on to write all four, so they are written here, reviewed once, and
  chosen by the screening factors.
- **What the model writes.** Only a suggested opening: one or two sentences
  acknowledging the message, from a prompt that asks for acknowledgement only and gives
  it no passages (nothing to paraphrase into advice or method detail). It is checked by
  every guardrail and the minimising rule, and kept only if it begins as an
  acknowledgement, gives no advice, claims nothing about safety or normality and
  repeats none of the client's words. A checked opening is *offered* to the counsellor
  (`crisis_opening_suggested`, with its text), not put in the draft: the draft starts
  with a vetted opening for its variant. The reason is measured: on the dev set, the
  checks kept 11 of 24 openings and one of those still misread the crisis (sympathy
  for a toddler's pain, to a parent afraid of hurting him); on the held-out set 6 of 24
  kept openings misread the message, one of them minimising an overdose ("it sounds like
  you're feeling a little better"). Meaning errors like these pass any pattern check,
  and a counsellor answering a crisis against the clock should not have to catch them.
  `PSY_CRISIS_MODEL_OPENING_IN_DRAFT=1` puts a checked opening in
  the draft instead, with a warning on it.
- **What it is grounded in.** Retrieval is restricted to the corpus's crisis articles
  that fit the factors (what to do now, safety planning, suicidal thoughts, self-harm,
  supporting someone, after an attempt, unhealthy relationships): the best chunk of each
  is pinned, the remaining slots take only other chunks of those articles, and nothing
  else is retrieved. The template's lines cite the pinned passages by article.
- **Streaming.** The vetted opening and template are streamed at once, before the model
  reads the prompt, and the suggested opening streams beneath them, so a counsellor
  watching a crisis draft sees the safety structure in the first second. The suggestion
  is short (OPENING_MAX_NEW_TOKENS), so a crisis draft is also much faster than a full
  one.

Every change is listed as a finding (`crisis_template_used`, `crisis_opening_suggested`,
`crisis_opening_dropped`, `crisis_guidance_missing`), and drafts pass the same crisis rules in
`inference/guardrails.py` as a counsellor's final reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from inference.guardrails import Finding, check_draft, check_minimising
from retrieval.service import Passage, search

OPENING_MAX_NEW_TOKENS = 64
OPENING_MAX_WORDS = 60

WHAT_TO_DO_NOW = "crisis-what-to-do-now"
SAFETY_PLANNING = "safety-planning"
SUICIDAL_THOUGHTS = "suicidal-thoughts-and-getting-help"
SELF_HARM = "self-harm-urges"
SUPPORTING_SUICIDAL = "supporting-a-suicidal-friend"
SUPPORTING_SELF_HARM = "supporting-someone-who-self-harms"
AFTER_ATTEMPT = "after-a-suicide-attempt"
UNHEALTHY_RELATIONSHIPS = "unhealthy-relationships"

#: The corpus's crisis guidance: the only articles a crisis draft is grounded in.
CRISIS_ARTICLES = (WHAT_TO_DO_NOW, SAFETY_PLANNING, SUICIDAL_THOUGHTS, SELF_HARM,
                   SUPPORTING_SUICIDAL, SUPPORTING_SELF_HARM, AFTER_ATTEMPT,
                   UNHEALTHY_RELATIONSHIPS)

# The template variant for a set of factors: the first kind whose factors are present.
KIND_BY_FACTOR = (
    ("third_party", {"third_party_emergency"}),
    ("overdose", {"means"}),  # an overdose already taken (see plan_for)
    ("method_seeking", {"method_seeking"}),
    ("plan", {"plan", "goodbye", "timeline"}),
    ("harm_to_others", {"harm_to_others"}),
    ("abuse", {"abuse"}),
    ("self_harm", {"self_harm"}),
)
# Words of suicidal thoughts, without a plan; with no specific factor at all (the
# classifier alone, or a level a counsellor raised by hand) the general variant asks
# about the writer's safety and anyone else's.
IDEATION_FACTORS = {"ideation", "passive_ideation", "prior_attempt"}
DEFAULT_KIND = "general"

# The articles each kind is grounded in, most important first.
ARTICLES_BY_KIND = {
    "ideation": (SUICIDAL_THOUGHTS, WHAT_TO_DO_NOW, SAFETY_PLANNING),
    "general": (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS, SAFETY_PLANNING),
    "plan": (WHAT_TO_DO_NOW, SAFETY_PLANNING, SUICIDAL_THOUGHTS),
    "method_seeking": (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS, SAFETY_PLANNING),
    "overdose": (WHAT_TO_DO_NOW, AFTER_ATTEMPT, SUICIDAL_THOUGHTS),
    "self_harm": (SELF_HARM, WHAT_TO_DO_NOW, SAFETY_PLANNING),
    "third_party": (SUPPORTING_SUICIDAL, WHAT_TO_DO_NOW),
    "abuse": (UNHEALTHY_RELATIONSHIPS, WHAT_TO_DO_NOW),
    "harm_to_others": (WHAT_TO_DO_NOW, SAFETY_PLANNING),
}
# Factors that add an article to whatever the kind is.
ARTICLES_BY_FACTOR = {
    "prior_attempt": AFTER_ATTEMPT,
    "self_harm": SELF_HARM,
    "abuse": UNHEALTHY_RELATIONSHIPS,
}
MAX_PINNED = 4


def factor_names(factors: Iterable[object]) -> set[str]:
    """Factor names from screening's RiskFactor objects, their JSON (as stored on a
    Question) or plain strings."""
    names = set()
    for f in factors or ():
        if isinstance(f, str):
            names.add(f)
        elif isinstance(f, Mapping):
            names.add(str(f.get("factor", "")))
        else:
            names.add(str(getattr(f, "factor", "")))
    return names - {""}


@dataclass(frozen=True)
class CrisisPlan:
    kind: str
    articles: tuple[str, ...]
    factors: frozenset[str]


# The screener's "means" factor covers an overdose already taken and means at hand ("the
# pills are in front of me"); its evidence tells them apart.
_TAKEN = re.compile(r"\b(?:took|taken|takin|taking|swallow\w*|overdos\w*|tom[eé]|tomei|pris|"
                    r"aval[eé]|preso|genommen|geschluckt)\b", re.IGNORECASE)


def _evidence(factors: Iterable[object], name: str) -> list[str]:
    out = []
    for f in factors or ():
        if isinstance(f, Mapping) and f.get("factor") == name:
            out.append(str(f.get("evidence", "")))
        elif getattr(f, "factor", None) == name:
            out.append(str(getattr(f, "evidence", "")))
    return out


def plan_for(crisis: bool, factors: Iterable[object] = ()) -> CrisisPlan | None:
    """The template variant and the crisis articles for a question; None unless it is a
    `crisis` (screened high or above)."""
    if not crisis:
        return None
    factors = list(factors or ())
    names = factor_names(factors)
    means = _evidence(factors, "means")
    if means and not any(_TAKEN.search(e) for e in means):
        # Means at hand, not yet used: a plan. A bare name with no evidence stays "means".
        names = (names - {"means"}) | {"plan"}
    kind = next((k for k, wanted in KIND_BY_FACTOR if names & wanted),
                "ideation" if names & IDEATION_FACTORS else DEFAULT_KIND)
    articles = list(ARTICLES_BY_KIND[kind])
    if kind == "third_party" and "self_harm" in names:
        articles.insert(1, SUPPORTING_SELF_HARM)
    elif kind != "third_party":
        articles += [slug for factor, slug in ARTICLES_BY_FACTOR.items() if factor in names]
    return CrisisPlan(kind, tuple(dict.fromkeys(articles))[:MAX_PINNED], frozenset(names))


def retrieve(text: str, plan: CrisisPlan, k: int | None = None) -> list[Passage]:
    """The crisis passages: the best chunk of each of the plan's articles, pinned in the
    plan's order, then other chunks of those articles up to k. Nothing from any other
    article, however close it is to the words of the message."""
    from django.conf import settings

    k = max(k or settings.RETRIEVAL_TOP_K, 1)
    ranked = search(text, k=max(k, len(plan.articles)) * 6, articles=plan.articles,
                    max_per_article=0)
    pinned: list[Passage] = []
    for slug in plan.articles:
        best = next((p for p in ranked if p.article_slug == slug), None)
        if best is not None:
            pinned.append(best)
    rest = [p for p in ranked if p not in pinned]
    return pinned + rest[:max(0, k - len(pinned))]


# The template. Each line is text with "{c}" where the citation goes, and the articles
# it may cite, in order of preference; a line whose articles are not among the passages
# goes uncited. Every variant has a direct safety question, an urge to get help now and
# a line on distance from means; none names a method, a medication or an amount.
Line = tuple[str, tuple[str, ...]]

DONT_WAIT = ("Please don't wait for a reply from us if you feel unsafe: contact one of the "
             "services below now.", ())
STAY_WITH_YOU = ("If someone is nearby, tell them you are not safe and ask them to stay "
                 "with you{c}.", (WHAT_TO_DO_NOW,))

TEMPLATES: dict[str, tuple[Line, ...]] = {
    "general": (
        ("I want to ask you directly, because it matters: are you safe right now? Is anyone "
         "else in danger, and has anyone already been hurt or taken anything?", ()),
        ("If you or anyone else is in danger, please call your local emergency number now, "
         "or go to your nearest hospital emergency department. You can also call a crisis "
         "line at any time; the numbers are below{c}.", (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        ("If someone is nearby, tell them what is happening and ask them to stay with "
         "you{c}.", (WHAT_TO_DO_NOW,)),
        ("If there is anything around that could be used to hurt you or someone else, please "
         "put some distance between yourself and it, or ask someone you trust to keep it "
         "for now{c}.", (SAFETY_PLANNING, WHAT_TO_DO_NOW)),
        ("You do not have to face this alone. For now, the only goal is to get through the "
         "next few minutes with support{c}.", (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        DONT_WAIT,
    ),
    "ideation": (
        ("I want to ask you directly, because it matters: are you thinking of ending your "
         "life, and are you safe right now?", ()),
        ("If you feel you might act on these thoughts, please get help now: call your local "
         "emergency number or a crisis line (the numbers are below), or go to your nearest "
         "hospital emergency department{c}.", (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        STAY_WITH_YOU,
        ("If there is anything around you that you could use to hurt yourself, please put "
         "some distance between yourself and it, or ask someone you trust to keep it for "
         "you for now{c}.", (SAFETY_PLANNING, WHAT_TO_DO_NOW)),
        ("You do not have to get through this alone. Thoughts like these can ease with "
         "support, and a simple safety plan can help you through the next few hours{c}.",
         (SUICIDAL_THOUGHTS, SAFETY_PLANNING)),
        DONT_WAIT,
    ),
    "plan": (
        ("I'm worried about your safety, so I want to ask you directly: are you safe right "
         "now, and have you done anything to harm yourself already?", ()),
        ("Please get help now: call your local emergency number, or go to your nearest "
         "hospital emergency department. You can also call a crisis line right now; the "
         "numbers are below{c}.", (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        STAY_WITH_YOU,
        ("If you have something with you that you could use to harm yourself, please put "
         "distance between yourself and it now: move to another room, or give it to "
         "someone to keep{c}.", (SAFETY_PLANNING, WHAT_TO_DO_NOW)),
        ("The only goal right now is to get through the next few minutes, then the next "
         "hour, with someone beside you{c}.", (WHAT_TO_DO_NOW,)),
        DONT_WAIT,
    ),
    "method_seeking": (
        ("I won't give information about ways to end your life, because I care about you "
         "staying safe. I want to ask you directly: are you thinking of ending your life, "
         "and are you safe right now?", ()),
        ("Please get help now: call your local emergency number or a crisis line (the "
         "numbers are below), or go to your nearest hospital emergency department{c}.",
         (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        STAY_WITH_YOU,
        ("If you have anything with you that you could use to hurt yourself, please put "
         "distance between yourself and it, or ask someone you trust to keep it for you "
         "for now{c}.", (SAFETY_PLANNING, WHAT_TO_DO_NOW)),
        ("Feelings this intense do ease, even when that seems impossible, and you do not "
         "have to face them alone{c}.", (WHAT_TO_DO_NOW, SUICIDAL_THOUGHTS)),
        DONT_WAIT,
    ),
    "overdose": (
        ("I need to ask you directly: have you taken anything, and are you safe right "
         "now?", ()),
        ("If you have taken anything, please call your local emergency number or go to "
         "your nearest hospital emergency department now, even if you feel all right. "
         "Getting checked quickly matters{c}.", (WHAT_TO_DO_NOW, AFTER_ATTEMPT)),
        ("If someone is nearby, tell them what has happened and ask them to stay with "
         "you{c}.", (WHAT_TO_DO_NOW,)),
        ("Please put anything else you could hurt yourself with out of reach, or hand it "
         "to someone else{c}.", (WHAT_TO_DO_NOW, SAFETY_PLANNING)),
        ("Whatever happened, you deserve care, and the people at the hospital are there to "
         "help you, not to judge you{c}.", (AFTER_ATTEMPT, SUICIDAL_THOUGHTS)),
        DONT_WAIT,
    ),
    "self_harm": (
        ("I want to ask you directly: are you safe right now, and have you hurt yourself "
         "in a way that needs looking at?", ()),
        ("If you have hurt yourself badly, or feel you cannot keep yourself safe, please "
         "call your local emergency number or go to your nearest hospital emergency "
         "department now. You can also call a crisis line at any time; the numbers are "
         "below{c}.", (SELF_HARM, WHAT_TO_DO_NOW)),
        ("If you can, put some distance between yourself and anything you might use to "
         "hurt yourself, and go somewhere with other people around{c}.",
         (SELF_HARM, SAFETY_PLANNING)),
        ("Urges tend to rise, peak and fade. Messaging or calling someone you trust can "
         "help you through the peak; you can simply say you are having a hard time{c}.",
         (SELF_HARM,)),
        DONT_WAIT,
    ),
    "third_party": (
        ("I want to ask you directly: is the person you are worried about safe right now, "
         "and do you know whether they have already hurt themselves or taken anything? "
         "Are you safe yourself?", ()),
        ("If you think they are at immediate risk, or they have hurt themselves, please "
         "call your local emergency number now and tell them where the person is. Please "
         "don't wait for a reply from us{c}.", (SUPPORTING_SUICIDAL, WHAT_TO_DO_NOW)),
        ("If it is safe to do so, stay with them, or ask someone nearer to go to them, "
         "until help arrives{c}.", (SUPPORTING_SUICIDAL,)),
        ("Where you can, help them put distance between themselves and anything they could "
         "use to harm themselves{c}.", (SUPPORTING_SUICIDAL, SUPPORTING_SELF_HARM)),
        ("It is okay to ask them plainly whether they are thinking of ending their life; "
         "asking does not put the idea in their head{c}.", (SUPPORTING_SUICIDAL,)),
        ("You can also call a crisis line yourself for help with what to do next; the "
         "numbers are below.", ()),
    ),
    "abuse": (
        ("I want to ask you directly: are you safe right now, and is the person who is "
         "hurting you nearby?", ()),
        ("If you are in danger now, please call your local emergency number straight "
         "away{c}.", (UNHEALTHY_RELATIONSHIPS, WHAT_TO_DO_NOW)),
        ("If you can, move away from the person and from anything that could be used to "
         "hurt you, to a safer place or to people you trust{c}.",
         (UNHEALTHY_RELATIONSHIPS, WHAT_TO_DO_NOW)),
        ("What is happening is not your fault. A specialist domestic abuse service can "
         "listen in confidence and help you make a safety plan{c}.",
         (UNHEALTHY_RELATIONSHIPS,)),
        DONT_WAIT,
    ),
    "harm_to_others": (
        ("I want to ask you directly: is anyone in danger right now, and are you safe "
         "yourself?", ()),
        ("If you feel you might act on these thoughts, please call your local emergency "
         "number or a crisis line now and tell them what you are feeling{c}.",
         (WHAT_TO_DO_NOW,)),
        ("If you can, put distance between yourself and the person, and between yourself "
         "and anything that could be used to hurt someone, and go somewhere you can calm "
         "down or where other people are around{c}.", (WHAT_TO_DO_NOW, SAFETY_PLANNING)),
        ("Telling us was the right thing to do, and help with thoughts like these is "
         "available.", ()),
        DONT_WAIT,
    ),
}
SUBSTANCES: Line = ("Alcohol and drugs can make feelings stronger and decisions riskier, so "
                    "please avoid them for now{c}.", (WHAT_TO_DO_NOW, SAFETY_PLANNING))

FALLBACK_OPENINGS = {
    "third_party": "Thank you for reaching out. It sounds frightening to be so worried "
                   "about someone you care about, and you are right to take it seriously.",
    "abuse": "Thank you for telling me this. What you are describing sounds frightening, "
             "and it is not your fault.",
    "harm_to_others": "Thank you for telling me this. It took courage to say, and I am "
                      "taking it seriously.",
    "general": "Thank you for telling me this. It sounds like you are going through "
               "something very hard right now, and I am taking what you have said seriously.",
    "self_harm": "Thank you for telling me about this. It sounds like things feel "
                 "unbearable right now, and I am taking what you have said seriously.",
}
DEFAULT_FALLBACK = ("Thank you for telling me this. It sounds like you are carrying a huge "
                    "amount of pain right now, and I am taking what you have said seriously.")


def template(plan: CrisisPlan, passages: list[Passage]) -> str:
    """The vetted body of a crisis draft, its lines citing the passages by article."""
    number = {}
    for n, p in enumerate(passages, start=1):
        number.setdefault(p.article_slug, n)
    lines = list(TEMPLATES[plan.kind])
    if "substance_use" in plan.factors and plan.kind not in ("third_party", "abuse"):
        lines.insert(-1, SUBSTANCES)
    out = []
    for text, cites in lines:
        n = next((number[s] for s in cites if s in number), None)
        out.append(text.replace("{c}", f" [{n}]" if n else ""))
    return "\n\n".join(out)


def fallback_opening(plan: CrisisPlan) -> str:
    return FALLBACK_OPENINGS.get(plan.kind, DEFAULT_FALLBACK)


_FENCE = re.compile(r"</?client_message>|\(/?client_message\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+")
_WORD = re.compile(r"[a-z']+")
_ACKNOWLEDGES = re.compile(
    r"(?:i'?m|i am) (?:so |really |very |truly |deeply )?(?:sorry|worried|concerned)\b"
    r"|(?:thank you|thanks) (?:so much |very much )?for\b|(?:it|that|this) sounds\b"
    r"|i can (?:hear|only imagine|tell|see|understand)\b|it must (?:be|feel)\b|i hear\b"
    r"|what you(?:'re| are) (?:describing|going through|carrying|feeling)\b"
    r"|it(?:'s| is) (?:so |really |incredibly |very )?(?:hard|painful|frightening|scary|"
    r"difficult|heavy|exhausting|overwhelming)\b"
    r"|(?:i'?m|i am) (?:really |so )?(?:glad|grateful) you (?:told|reached|wrote|felt able)\b"
    r"|you(?:'ve| have) (?:been )?(?:carrying|going through|been through|told me)\b",
    re.IGNORECASE)
# In an opening (not in a counsellor's reply, where the guardrails decide): cheerful
# notes, reassurance that they are safe or that this is normal, and any means.
_UNFIT = re.compile(
    r"\b(?:glad(?! you (?:told|reached|wrote|felt able))|happy|pleased|great|wonderful|"
    r"lovely|brilliant|fantastic|exciting|amazing|"
    r"flatter\w*|delighted|enjoy\w*|fun|ready|proud|brave|okay|ok|alright|fine|safe|safety|"
    r"normal|common|natural|nothing|worry|worrying|calm down|relax\w*|plan|plans|pills?|"
    r"tablets?|meds|medication|dose|overdose|rope|knife|knives|blade|gun|bridge|poison|"
    r"sleep|peaceful\w*|method|way to)\b", re.IGNORECASE)
_LOSS = re.compile(r"\b(?:loss|passing|passed away|grief|grieving|bereave\w*|condolences)\b",
                   re.IGNORECASE)
_BEREAVED = re.compile(r"\b(?:died|dead|death|passed|lost|loss|funeral|bereave\w*|grie\w*|"
                       r"put to sleep)\b", re.IGNORECASE)
_ADVICE = re.compile(
    r"(?:please|try|call|contact|go|get|make sure|remember|consider|reach out|talk to|tell|"
    r"ask|take|keep|stay|put|avoid|you (?:should|could|can|might|may|need|must)|it (?:might|"
    r"may|could|can|would) (?:help|be (?:helpful|worth))|why not|if you|here are|one thing|"
    r"some (?:things|steps|ideas))\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _sentence_problem(sentence: str, question: str) -> str:
    """Why one sentence of the opening is unfit, or ""."""
    if not _ACKNOWLEDGES.match(sentence):
        return "it did not begin as an acknowledgement"
    found = _UNFIT.search(sentence)
    if found:
        return f"it said \"{found.group()}\", which does not fit a crisis"
    if _LOSS.search(sentence) and not _BEREAVED.search(question):
        return "it spoke of a loss the client did not mention"
    return ""


def check_opening(raw: str, question: str) -> tuple[str, str]:
    """The model's opening cut to its first one or two whole sentences, and "" if it is
    fit to use; else ("", why it was dropped). The bar is deliberately high: an opening
    that is dropped costs only personal words, while one that misreads a crisis costs
    trust; a kept opening begins as an acknowledgement, gives no advice, makes no claim
    that the client is safe or that this is normal, sounds no cheerful note and repeats
    none of the client's words."""
    text = _FENCE.sub("", raw).strip()
    text = re.sub(r"^(?:dear [^,\n]{0,30},|hi[^,\n]{0,20},|hello[^,\n]{0,20},)\s*", "", text,
                  flags=re.IGNORECASE)
    text = text.split("\n\n")[0].replace("\n", " ").strip()
    sentences = _sentences(text)
    if sentences and not re.search(r"[.!?][\"')\]]?$", sentences[-1]):
        sentences = sentences[:-1]  # cut off by the token limit
    if not sentences:
        return "", "it was not a whole sentence"
    # A model that wrote something the guardrails flag, in either of its first two
    # sentences, is not trusted for the other one either.
    _, findings = check_draft(" ".join(sentences[:2]), 0)
    flagged = [f for f in findings if f.severity in ("block", "warn")]
    flagged += check_minimising(" ".join(sentences[:2]), crisis=True)
    if flagged:
        return "", "the guardrails flagged it (" + "; ".join(
            f"{f.rule}: {f.excerpt}" if f.excerpt else f.rule for f in flagged) + ")"
    # Acknowledgement only: the opening stops at the first sentence that gives advice or
    # instructions (which the vetted template gives instead) or is otherwise unfit.
    kept = []
    why = ""
    for sentence in sentences[:2]:
        if _ADVICE.match(sentence):
            why = "it gave advice instead of acknowledging the message"
            break
        why = _sentence_problem(sentence, question)
        if why:
            break
        kept.append(sentence)
    if not kept:
        return "", why
    opening = " ".join(kept)
    if len(opening.split()) > OPENING_MAX_WORDS:
        opening = kept[0]
    words = opening.split()
    if len(words) < 4:
        return "", "it was too short"
    if len(words) > OPENING_MAX_WORDS:
        return "", "it was too long"
    letters = sum(c.isalpha() or c.isspace() for c in opening)
    if letters < 0.85 * len(opening) or re.search(r"[\d\[\]<>{}|#*_]|https?:|www\.", opening):
        return "", "it was not plain text (numbers, links, citations or markup)"
    if _ngrams(opening, 6) & _ngrams(question, 6):
        return "", "it repeated the client's own words"
    return opening, ""


def model_opening_in_draft() -> bool:
    """Whether a checked model opening goes into the draft itself (False by default: it is
    offered to the counsellor as a suggestion; see the module docstring)."""
    from django.conf import settings

    return settings.CRISIS_MODEL_OPENING_IN_DRAFT


def draft_opening(plan: CrisisPlan) -> str:
    """The opening a crisis draft starts with before (or without) the model's."""
    return fallback_opening(plan)


def compose_text(plan: CrisisPlan, raw_opening: str, question: str,
                 passages: list[Passage]) -> tuple[str, str, list[Finding]]:
    """The crisis draft before post-processing: the opening, then the template. Returns
    the text, the template alone and the findings. The opening is a vetted one; the
    model's, when it passes check_opening, is offered as a suggestion (or, with
    CRISIS_MODEL_OPENING_IN_DRAFT, used in the draft)."""
    body = template(plan, passages)
    opening, why = check_opening(raw_opening, question)
    in_draft = bool(opening) and model_opening_in_draft()
    findings = [Finding(
        "crisis_template_used", "info",
        f"The question was screened high risk or above, so the reply follows the vetted "
        f"crisis template ({plan.kind.replace('_', ' ')}): a safety question, an urge to "
        f"get help now and distance from means. "
        + ("The model wrote only the opening." if in_draft else
           "The opening is a vetted one: make it personal before sending."),
        plan.kind)]
    if why:
        findings.append(Finding(
            "crisis_opening_dropped", "info",
            f"The model's suggested opening was dropped because {why}.",
            _FENCE.sub("", raw_opening).strip()[:200]))
    elif in_draft:
        findings.append(Finding(
            "crisis_opening_model_written", "warn",
            "The opening was written by the model and passed the checks: make sure it fits "
            "what the client said before sending.", opening))
    else:
        findings.append(Finding(
            "crisis_opening_suggested", "info",
            "The model suggested this personal opening, and it passed the checks. It is not "
            "in the draft, because checked openings still misread crises (for example, "
            "sympathy for a toddler's pain to a parent afraid of hurting him); use it, in "
            "your own words, if it fits.", opening))
    if not passages:
        findings.append(Finding(
            "crisis_guidance_missing", "warn",
            "None of the corpus's crisis articles could be retrieved, so the reply cites no "
            "source. Check the index."))
    return f"{opening if in_draft else draft_opening(plan)}\n\n{body}", body, findings
