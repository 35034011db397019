"""Checks run on every draft before a counsellor sees it.

Each rule returns findings; a finding says what was found, where, and what (if
anything) was changed. Drafts are only ever changed visibly: removals and additions
are listed with the draft, and everything else is flagged for the reviewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.conf import settings

CONDITIONS = (
    r"(clinical |major |severe )?depression|depressive disorder|(an? )?anxiety disorder|"
    r"generali[sz]ed anxiety|panic disorder|bipolar( disorder)?|ptsd|post-traumatic stress "
    r"disorder|ocd|obsessive[- ]compulsive disorder|bpd|borderline personality( disorder)?|"
    r"personality disorder|adhd|autism|schizophrenia|psychosis|(an )?eating disorder|"
    r"anorexia|bulimia|insomnia disorder|social anxiety disorder"
)
DIAGNOSIS = re.compile(
    rf"\byou(?:'ve| have| are| may have| might have| probably have| clearly have| likely "
    rf"have|'re| seem to have| are suffering from| suffer from)\s+(?:got\s+)?(?:{CONDITIONS})\b"
    rf"|\b(?:sounds|seems|looks) like (?:you have |you've got |)(?:{CONDITIONS})\b"
    rf"|\byou are (?:clinically depressed|bipolar|anorexic|bulimic|psychotic|autistic)\b"
    rf"|\b(?:my|this|a) diagnosis (?:is|would be)\b|\bI (?:would )?diagnose\b",
    re.IGNORECASE,
)
MEDICATIONS = (
    "sertraline|fluoxetine|citalopram|escitalopram|paroxetine|venlafaxine|duloxetine|"
    "mirtazapine|amitriptyline|bupropion|trazodone|diazepam|lorazepam|alprazolam|"
    "clonazepam|zolpidem|zopiclone|quetiapine|olanzapine|risperidone|aripiprazole|lithium|"
    "lamotrigine|valproate|propranolol|pregabalin|methylphenidate|melatonin|prozac|zoloft|"
    "xanax|valium|ativan|lexapro|celexa|effexor|wellbutrin|seroquel|ambien|"
    "st\\.? john'?s wort|cbd oil|ssris?|snris?|benzodiazepines?|benzos?|antidepressants?|"
    "anti-anxiety (?:meds|medication)|sleeping pills|beta[- ]blockers?"
)
MEDICATION_ADVICE = re.compile(
    rf"\b(?:take|try|start|increase|decrease|double|stop taking|come off|switch to|ask for|"
    rf"get|use)\s+(?:some\s+|a\s+|an\s+|your\s+)?(?:{MEDICATIONS})\b"
    rf"|\b(?:{MEDICATIONS})\b\s+(?:will|would|can|could|should|might) (?:help|fix|work|cure)",
    re.IGNORECASE,
)
MEDICATION_NAME = re.compile(rf"\b(?:{MEDICATIONS.split('|ssris?')[0]})\b", re.IGNORECASE)
DOSE = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:mg|milligrams?|mcg|micrograms?|ml|millilit(?:re|er)s?|grams?|"
    r"tablets?|pills?|capsules?)\b(?:\s+(?:a|per|each|every)\s+(?:day|night|dose))?"
    r"|\b(?:one|two|three|four|five|six|a couple of|a few) (?:tablets?|pills?|capsules?|"
    r"doses?)\b|\b(?:once|twice|three times) (?:a|per) day\b",
    re.IGNORECASE,
)
HARMFUL = re.compile(
    r"\b(?:how (?:many|much) (?:pills|tablets|paracetamol|medication)|lethal (?:dose|amount)|"
    r"overdose on|fatal (?:dose|amount)|(?:cut|cutting) (?:deeper|your (?:wrists?|arms?))|"
    r"hang(?:ing)? yourself|jump(?:ing)? (?:off|from) (?:a |the )?(?:bridge|building|roof)|"
    r"painless (?:way|method)|ways? to (?:kill|end) yourself|method(?:s)? of suicide|"
    r"(?:you should|why not|just) (?:end it|kill yourself|hurt yourself))\b",
    re.IGNORECASE,
)
# A phone number: six or more digits in a phone-like run, or a short number that the
# text tells the reader to call or text (not the first group of a longer number, as in
# "call 116 123"). Breathing counts like 4-7-8 are neither.
LONG_NUMBER = re.compile(r"(?<![\w-])\+?\(?\d[\d ()-]{4,18}\d(?![\w-])")
SHORT_NUMBER = re.compile(r"\b(?:call|text|dial|ring|phone|contact)(?: them| us)?(?: on| at)?"
                          r"\s+(\d{3,5})\b(?![ -]?\d)", re.IGNORECASE)
URL = re.compile(r"\bhttps?://[^\s)\]>]+|\bwww\.[^\s)\]>]+", re.IGNORECASE)
CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "block": must be fixed before approval; "warn": check it; "info": a change
    detail: str
    excerpt: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _excerpts(pattern: re.Pattern[str], text: str) -> list[str]:
    return list(dict.fromkeys(m.group().strip() for m in pattern.finditer(text)))


def check_diagnosis(text: str) -> list[Finding]:
    return [Finding("diagnosis", "block", "The draft seems to diagnose the client.", e)
            for e in _excerpts(DIAGNOSIS, text)]


def check_medication(text: str) -> list[Finding]:
    found = [Finding("medication_advice", "block", "The draft advises on medication.", e)
             for e in _excerpts(MEDICATION_ADVICE, text)]
    advised = " ".join(f.excerpt.lower() for f in found)
    found += [Finding("medication_named", "warn", "The draft names a medication.", e)
              for e in _excerpts(MEDICATION_NAME, text) if e.lower() not in advised]
    found += [Finding("dose", "block", "The draft mentions a dose or amount.", e)
              for e in _excerpts(DOSE, text)]
    return found


def check_harmful(text: str) -> list[Finding]:
    return [Finding("harmful_content", "block",
                    "The draft contains method-related or harmful content.", e)
            for e in _excerpts(HARMFUL, text)]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phone_numbers(text: str) -> list[str]:
    found = [m.group().strip() for m in LONG_NUMBER.finditer(text)
             if len(_digits(m.group())) >= 6]
    return list(dict.fromkeys(found + [m.group(1) for m in SHORT_NUMBER.finditer(text)]))


def _allowed_numbers() -> set[str]:
    numbers = set()
    for line in [*settings.CRISIS_RESOURCES, *settings.ALLOWED_RESOURCE_CONTACTS]:
        numbers.update(_digits(n) for n in re.findall(r"\d[\d ]*\d|\d", line))
    return numbers


def check_contacts(text: str, allowed_urls: Iterable[str] = ()) -> list[Finding]:
    numbers = _allowed_numbers()
    urls = {u.rstrip("/.") for u in [*allowed_urls, *settings.ALLOWED_RESOURCE_CONTACTS]}
    findings = []
    for raw in _phone_numbers(text):
        if _digits(raw) not in numbers:
            findings.append(Finding("unlisted_phone_number", "block",
                                    "A phone number that is not on the resource list.", raw))
    for raw in _excerpts(URL, text):
        if raw.rstrip("/.") not in urls:
            findings.append(Finding("unlisted_url", "block",
                                    "A link that is not one of the given sources.", raw))
    return findings


def remove_invalid_citations(text: str, passage_count: int) -> tuple[str, list[Finding]]:
    invalid = sorted({int(n) for n in CITATION.findall(text)
                      if not 1 <= int(n) <= passage_count})
    if not invalid:
        return text, []
    cleaned = CITATION.sub(lambda m: "" if int(m.group(1)) in invalid else m.group(), text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned), [
        Finding("citation_removed", "info",
                f"[{n}] pointed to no given source, so it was removed.", f"[{n}]")
        for n in invalid
    ]


def check_draft(text: str, passage_count: int, allowed_urls: Iterable[str] = ()
                ) -> tuple[str, list[Finding]]:
    """Runs every content rule. Returns the text (only citations may be removed) and
    the findings, most serious first."""
    text, findings = remove_invalid_citations(text, passage_count)
    findings += check_diagnosis(text)
    findings += check_medication(text)
    findings += check_harmful(text)
    findings += check_contacts(text, allowed_urls)
    order = {"block": 0, "warn": 1, "info": 2}
    return text, sorted(findings, key=lambda f: order[f.severity])


# Being glad the client reached out, or noticed something, is validation; being glad that
# they are "taking" something, enjoying themselves or have a plan, in a reply to someone
# at risk, is what the issue calls minimising.
_GLAD_ABOUT = (
    r"(?:taking (?!(?:[\w']+ ){0,5}seriously|(?:the |a )?(?:first |brave )?steps?\b|action|"
    r"the time to (?:reach|ask|write|tell))|having (?:fun|a (?:good|great|nice|lovely|fun|"
    r"relaxing))|enjoying|doing (?:well|better|ok|okay|fine|alright|great)\b|feeling (?:better|"
    r"good|ok|okay|fine|calmer|relaxed)\b|relaxing|treating yourself|(?:got|made|have|found) (?:a |"
    r"the |your )?plan\b|getting (?:some )?rest|going to (?:take|do|go "
    r"through))"
)
# Minimising or incongruent text in a reply to someone at risk. Each pattern is phrased
# so that ordinary warm drafts do not match: "I'm glad you reached out" is validation,
# "I'm glad you're taking care of yourself tonight" to someone holding pills is not.
# Checked on drafts and replies for questions screened moderate or above.
MINIMISING = re.compile(
    rf"\b(?:glad|happy|pleased|relieved|good|great|nice|wonderful|lovely) (?:that |to "
    rf"(?:hear|see|know) (?:that )?)?you(?:'re| are|'ve| have)? {_GLAD_ABOUT}"
    r"|\b(?:I )?hope (?:they|the (?:pills|tablets|meds)|them)(?:'ll| will| can) (?:help|work)"
    r"|\b(?:not|nothing) (?:really )?worth worrying about|\bnothing (?:much |at all )?to worry "
    r"about|\bno need to (?:worry|panic)|\bdon'?t (?:you )?worry(?=[.,;!]|$| about (?:it|this|"
    r"that|a thing)\b| too much| so much)|\btry not to worry|\bjust stop worrying"
    r"|\b(?:sounds|seems) like (?:a |an )?(?:really )?(?:great|good|wonderful|solid|lovely|"
    r"sensible|exciting|fun|nice) (?:plan|idea|evening|night|time)|\b(?:what|that'?s) a (?:great|"
    r"good|wonderful|lovely) (?:plan|idea)\b"
    r"|\benjoy (?:your|the) (?:evening|night|day|weekend|time|rest)|\bhave (?:a|an) (?:great|"
    r"lovely|nice|good|wonderful|fun|relaxing) (?:evening|night|day|weekend|time)"
    r"|\btake (?:them|it|those|these|the (?:pills|tablets)) with (?:water|food|a glass|milk)"
    r"|\bcheer up|\blook on the bright side|\b(?:it|things) could be (?:a lot |much )?worse"
    r"|\bothers have it worse|\bjust (?:think|stay|be) positive"
    r"|(?<!yourself to )(?<!told to )(?<!people to )\bsnap out of it"
    r"|\byou(?:'ll| will) be (?:just )?(?:fine|ok|okay|alright|all right)\b"
    r"|\b(?:it'?s|that'?s) not (?:that|so) bad|\b(?:you'?re|you are) (?:just )?(?:overreacting|"
    r"being dramatic)|\bjust a phase|\b(?:it'?s|that'?s) (?:all )?in your head",
    re.IGNORECASE,
)
# In a crisis (high or imminent) these are incongruent too: normalising the danger, and
# routine advice that answers something other than it (sleep hygiene, drinking tips,
# relaxing evenings). Ordinary drafts for sleep or drinking questions say these things
# rightly, so they count only in a crisis.
CRISIS_INCONGRUENT = re.compile(
    r"\b(?:it'?s|that'?s|this is|feeling (?:this|that) way is|what you(?:'re| are) feeling is) "
    r"(?:completely |perfectly |totally |quite |very |so |really )?(?:normal|common|natural)"
    r"(?: to feel (?:this|that) way)?(?=[.,;!]| for| and| to feel (?:this|that)"
    r" way)"
    r"|\b(?:it'?s|that'?s|this is) (?:a |an )?(?:very |completely |perfectly |totally |quite |"
    r"so |really )?(?:normal|common) (?:experience|feeling|reaction|thing|part of life|"
    r"(?:exam |work )?stress)\b"
    r"|\bevery(?:one|body) (?:feels|gets|goes through|has|experiences) (?:this|that|like this|"
    r"these|days like|moments like|it)\b|\bwe all (?:feel|get|go through|have) (?:this|that|"
    r"these|days|moments|it)\b|\bjust a bad (?:day|night|week|patch)"
    r"|\bsleep hygiene|\bbedtime routine|\b(?:avoid|cut (?:down|back) on|limit) (?:caffeine|"
    r"coffee|screens)|\bscreens? before bed|\b(?:a )?(?:warm|hot|relaxing) (?:bath|shower|"
    r"drink)\b|\bherbal tea|\bchamomile|\bgood night'?s (?:sleep|rest)|\bget (?:some|plenty of) "
    r"(?:sleep|rest)|\bsleep it off|\bdrink (?:plenty of |lots of |some |more )?water|\bstay "
    r"hydrated|\balternat(?:e|ing) (?:your |alcoholic )?drinks|\bunits? of alcohol"
    r"|\b(?:cut(?:ting)? down|"
    r"cut(?:ting)? back) on (?:your )?(?:drinking|alcohol)|\bdrink (?:in moderation|responsibly)"
    r"|\balcohol-free days|\btreat yourself(?= to\b|[.!])|\bpamper yourself"
    r"|\b(?:a |some )?me[- ]time\b"
    r"|\btake it easy\b|\bput your feet up|\bwatch (?:a|your favourite) (?:film|movie|show)",
    re.IGNORECASE,
)
# A direct question about safety now: asked of the client, or of the person at risk.
SAFETY_QUESTION = re.compile(
    r"\bsafe\b|\b(?:thinking|thoughts) (?:about|of) (?:ending|taking) (?:your|their|his|her) "
    r"(?:own )?life|\b(?:thinking|thoughts) (?:about|of) (?:suicide|killing (?:yourself|"
    r"themselves|himself|herself))|\b(?:have|has) (?:you|they|he|she) (?:already )?(?:taken|"
    r"swallowed|hurt|harmed|cut|done) |\b(?:is|are) (?:you|they|he|she|anyone|anybody|someone|"
    r"the person|your \w+) (?:\w+ )?(?:in danger|hurt|injured)\b|\bplanning to act\b",
    re.IGNORECASE,
)
# An urge to get help now: emergency services, a crisis line, or someone to be there.
URGE_HELP = re.compile(
    r"\b(?:call|ring|phone|dial|contact|text)\b[^.?!\n]{0,60}?\b(?:emergency|999|112|911|988|"
    r"116 ?123|samaritans|crisis (?:line|team|service)|helpline|ambulance|police)"
    r"|\bgo (?:straight )?to (?:your |the |a )?(?:nearest )?(?:hospital|a ?& ?e|emergency "
    r"(?:department|room))|\b(?:get|seek) (?:urgent |emergency |immediate )?(?:help|support) "
    r"(?:now|right now|straight away|immediately|tonight|today)|\b(?:urgent|emergency|"
    r"immediate) (?:help|support|care)\b|\bask (?:someone|somebody|them|a friend|a person|"
    r"someone you trust|a neighbour)\b[^.?!\n]{0,30}?\bto (?:stay|be|come) (?:with|to) you",
    re.IGNORECASE,
)
MEANS_DISTANCE = re.compile(
    r"\bdistance between|\baway from (?:anything|the person|them|him|her|what)|\bout of "
    r"(?:reach|the (?:house|room|way))|\b(?:give|hand) (?:it|them|anything[^.?!\n]{0,40}) to "
    r"someone|\bask someone (?:you trust )?to (?:keep|look after|hold on to|take)|\bsafer "
    r"(?:place|room)|\bsomewhere (?:safer|safe|with other people)",
    re.IGNORECASE,
)
_QUESTION_SENTENCE = re.compile(r"[^.?!\n]*\?")


def check_minimising(text: str, *, crisis: bool = False) -> list[Finding]:
    """Minimising or incongruent text in a reply to someone at risk: blocking."""
    found = [Finding("minimising_text", "block",
                     "The reply minimises or does not fit what the client is facing.", e)
             for e in _excerpts(MINIMISING, text)]
    if crisis:
        found += [Finding("incongruent_in_crisis", "block",
                          "In a crisis this normalises the danger or answers something "
                          "other than it.", e)
                  for e in _excerpts(CRISIS_INCONGRUENT, text)]
    return found


def without_resources(text: str) -> str:
    """The text without the configured crisis resources and the sources list, which are
    added to every risky draft and so say nothing about what the reply itself asks."""
    text = text.split("\nSources:\n")[0]
    for line in settings.CRISIS_RESOURCES:
        text = text.replace(line, "")
    return text


def asks_about_safety(text: str) -> bool:
    return any(SAFETY_QUESTION.search(q) for q in _QUESTION_SENTENCE.findall(text))


def urges_help_now(text: str) -> bool:
    return bool(URGE_HELP.search(without_resources(text)))


def mentions_means_distance(text: str) -> bool:
    return bool(MEANS_DISTANCE.search(without_resources(text)))


def check_crisis_structure(text: str) -> list[Finding]:
    """A reply to a question screened high or imminent must ask directly about safety now
    and urge help now (blocking), and should mention distance from means (a warning)."""
    body = without_resources(text)
    findings = []
    if not asks_about_safety(body):
        findings.append(Finding(
            "crisis_safety_question_missing", "block",
            "The question was screened high risk or above, and the reply does not ask "
            "directly about safety right now (e.g. \"Are you safe right now?\", \"Have you "
            "taken anything?\")."))
    if not urges_help_now(body):
        findings.append(Finding(
            "crisis_urge_missing", "block",
            "The question was screened high risk or above, and the reply does not urge help "
            "now (emergency services, a crisis line, someone to be with them), beyond the "
            "listed resources."))
    if not mentions_means_distance(body):
        findings.append(Finding(
            "crisis_means_distance_missing", "warn",
            "The reply does not mention putting distance between the person and anything "
            "they could use to hurt themselves (or the person who is a danger)."))
    return findings


def check_reply(text: str, *, risky: bool, passage_count: int = 0,
                allowed_urls: Iterable[str] = (), crisis: bool = False) -> list[Finding]:
    """The checks a reply must pass before it reaches a client, run on the counsellor's
    final text as on a draft. Nothing is changed: a citation to no source is a warning
    here, and a risky question's reply must carry every configured crisis resource.
    A risky reply must not minimise; with `crisis` (screened high or imminent) it must
    also ask about safety now and urge help now (see check_crisis_structure)."""
    findings = check_diagnosis(text) + check_medication(text) + check_harmful(text)
    findings += check_contacts(text, allowed_urls)
    invalid = sorted({int(n) for n in CITATION.findall(text)
                      if not 1 <= int(n) <= passage_count})
    findings += [Finding("citation_unknown", "warn", f"[{n}] points to no listed source.",
                         f"[{n}]") for n in invalid]
    if risky or crisis:
        missing = [line for line in settings.CRISIS_RESOURCES if line not in text]
        if missing:
            findings.append(Finding(
                "crisis_resources_missing", "block",
                "The question was screened moderate risk or above, and the reply lacks "
                "these crisis resources: " + "; ".join(missing) + ".", ""))
        findings += check_minimising(text, crisis=crisis)
    if crisis:
        findings += check_crisis_structure(text)
    order = {"block": 0, "warn": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.severity])
