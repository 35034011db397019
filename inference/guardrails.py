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
# text tells the reader to call or text. Breathing counts like 4-7-8 are neither.
LONG_NUMBER = re.compile(r"(?<![\w-])\+?\(?\d[\d ()-]{4,18}\d(?![\w-])")
SHORT_NUMBER = re.compile(r"\b(?:call|text|dial|ring|phone|contact)(?: them| us)?(?: on| at)?"
                          r"\s+(\d{3,5})\b", re.IGNORECASE)
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
