"""The rule layer: patterns a counsellor can read, with the context that changes them.

Each rule names a risk factor and the level it implies. A match is discounted when the
clause negates it ("I would never..."), when it is about someone else ("my friend wants
to die"), when it asks for information ("how do I help someone who..."), or when it is
clearly in the past and resolved. Idioms ("this deadline is killing me") are never
matched, because every harm pattern needs a first-person object or subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psyconsole.screening.levels import highest

# Slang, typos and common non-English phrases, folded into the patterns themselves so
# that evidence spans always point into the client's own text.
KILL_MYSELF = (
    r"(?:kill+|kil|end|off|unalive)(?:ing)? (?:my ?self|meself|myslef|mysefl)|kms\b|kys myself|"
    r"unaliv(?:e|ing) (?:my ?self)|end(?:ing)? (?:it all|my life|my own life|things)|"
    r"(?:going to|gonna|want to|wanna|will|i'?ll|about to|ready to) end it\b|"
    r"ending (?:both )?our lives|(?:stop )?wanting to die|"
    r"mar ja(?:un|aun|ana|ungi|unga)\b|khud ko khatam|khatam kar (?:dun|lu|dena)|"
    r"take my (?:own )?life|taking my (?:own )?life|commit(?:ting)? suicide|"
    r"su[iy]c[iy]d(?:e|al|le)|sucidal|suicdal|suisidal|"
    r"(?:want|wanna|going|gonna|ready) to die"
    r"(?! of (?:embarrassment|shame|boredom|laughter|laughing|cringe))|wish(?:ing)? to die|"
    r"quiero morir|me quiero matar|quiero matarme|no quiero vivir|quero morrer|"
    r"je veux mourir|me suicider|me tuer|ich will (?:nicht mehr leben|sterben)|"
    r"mich (?:umbringen|umzubringen|t[öo]ten)|me (?:voy a |vou |quero )?matar|matarme|me mato\b|"
    r"better off with (?:the |my )?(?:life )?insurance|(?:going to|gonna|about to|will|want to) "
    r"stop being a (?:problem|burden)|"
    r"ctb\b|sewer ?slide|(?:should|could|might|want to|wanna)(?: just)? end it\b|"
    r"(?:i'?m|im) ending it|to end it\b|use (?:it|them) on my ?self|"
    r"(?:i'?ll|i will|might|going to) act on (?:them|these thoughts|the thoughts)|"
    r"lo termino todo|acabar con todo|en finir\b|"
    r"want(?:ing)? (?:to (?:actually )?)?(?:be dead|do it)|(?:rather|better off) be(?:ing)? dead|"
    r"think(?:ing)? (?:about|of) (?:dying|ending it|ways to do it|how i would)|"
    r"voglio morire|farla finita|chc[eę] umrze[cć]|ik wil dood|"
    r"(?:decided|made up my mind)(?: that)? i (?:don'?t|do not) want to (?:be alive|live)|"
    r"decided to (?:die|end (?:it|my life))|"
    r"(?:scared|afraid|terrified) (?:of )?what i(?:'?m| am)? (?:might|could|am about to|'?m "
    r"about to|am going to|'?m going to|will) do(?: to my ?self)?|"
    r"mar(?:na)? jana? chaht[ae]|marna chahta|jeena nahi chahta|"
    # Hindi in Devanagari: "don't want to live", "want to die", "suicide"
    r"(?:नहीं|नही) जीना चाहत|जीना (?:नहीं|नही) चाहत|मरना चाहत|आत्महत्या"
)
PASSIVE = (
    r"wish i (?:was|were) dead|wish i (?:could )?(?:just )?(?:not wake up|disappear|"
    r"wasn'?t here|didn'?t exist|was never born)|(?:sleep|go to sleep) and (?:never|not) "
    r"wake up|better off (?:dead|without me)|(?:no|don'?t see (?:the|any)) (?:point|reason) "
    r"(?:in |of )?(?:living|life|going on|being alive|anything)|can'?t (?:go on|do this "
    r"anymore|keep going)|tired of (?:living|being alive|life)|wouldn'?t wake up|"
    r"never (?:wake|get) up|takes? me in my sleep|waiting for it to (?:be over|end)|"
    r"don'?t want to (?:be here|be alive|"
    r"exist|wake up|live)(?: anymore)?|(?:dont|dnt|do not) (?:wanna|want to|want 2) (?:b|be) "
    r"(?:here|alive)|hopeless|no way out|j'?en peux plus|"
    r"no puedo m[aá]s|ya no puedo|nicht mehr weiter|non ce la faccio pi[uù]"
)
SELF_HARM = (
    r"(?:cut|cutting|burn|burning|burned|burnt|hurt|hurting|harm|harming|hit|hitting|"
    r"scratch(?:ing|ed)?(?: at)?|punch(?:ing|ed)?|bang(?:ing|ed)?) "
    r"(?:my ?self|myslef|my (?:arms?|legs?|wrists?|skin|thighs?|head))|self[- ]?har[mn]+(?:ing)?|"
    r"slef[- ]?harm|sh (?:again|urges|last night)|(?:been |started |keep )?cut?ting (?:again|agn)|"
    r"cutting (?:for (?:a|\w+) (?:years?|months?|weeks?)|right now|every|most|daily|a lot)|"
    r"relapsed (?:on )?(?:sh|self[- ]?harm)|hacerme da[ñn]o|me faire du mal|me fais du mal|"
    r"mich ritzen|"
    r"ritze mich|me scarifie|me scarifier|"
    r"me cortar|me corto|cortarme"
)
HARM_OTHERS = (
    r"(?:(?:kill|hurt|stab|shoot|strangle|beat|attack|harm)(?:ing)?|use it on) (?:him|her|them|"
    r"(?:the )?kids? who|"
    r"someone|somebody|"
    r"people|my (?:wife|husband|partner|boss|dad|mum|mom|father|mother|brother|sister|son|"
    r"daughter|baby|toddler|kids?|child|ex|neighbour|neighbor|teacher|coworker|colleague|"
    r"roommate|flatmate|stepdad|little brother)|the kids?)"
)
ABUSE = (
    r"(?:he|she|they|my (?:partner|husband|wife|boyfriend|girlfriend|dad|mum|mom|father|"
    r"mother|step ?dad|uncle)) (?:hits|beats|chokes|strangles|punches|kicks|slaps|hurts|"
    r"threatens|rapes|touches) me|(?:not|don'?t feel) safe (?:at home|here|with (?:him|her|"
    r"them))|(?:scared|afraid|terrified) (?:of (?:him|her|them|what (?:he|she|they)'?ll do|"
    r"my (?:partner|husband|wife|boyfriend|girlfriend|dad|father|mum|mom|mother|step ?dad|"
    r"stepfather|uncle|brother|ex))\b|to go home)|locked me in|"
    r"threatened to (?:kill|hurt) me|\b(?:hits|beats|punches|chokes|choked|kicked|punched|"
    r"strangled|slapped|shoved|threw|grabs|hurting|hitting|beat) me\b|"
    r"(?:he|she|they)(?:'ll| will|'s going to| is going to| said he'?d| says he'?ll) "
    r"(?:kill|hurt) me|(?:said|says|told me|threatened|threatens) (?:that )?(?:he|she|they)"
    r"(?:'d| would|'ll| will|'s going to| is going to) (?:kill|hurt|stab|strangle) me|"
    r"(?:they|he|she) hit me|"
    r"(?:feel|feeling) (?:really |so )?unsafe|don'?t feel safe|threatening (?:messages|texts)"
)
# Goodbyes stand on their own; the rest of PLAN needs ideation or self-harm beside it.
GOODBYE = (
    r"by the time (?:you|anyone|someone|they) (?:reads?|sees?|finds?) this|i'?ll be gone|"
    r"(?:this is|saying) (?:my )?goodbye|goodbye (?:everyone|all|forever)|"
    r"(?:wrote|written|writing|left) (?:a |the |my )?(?:suicide |goodbye )notes?|"
    # "wrote my note" with nothing after saying what the note is for: the euphemism
    r"(?:wrote|written|finished|left) my note\b(?! (?:to|for|about|on|in|from|at)\b)|"
    r"at the place i (?:picked|chose)|this is it\b.{0,40}(?:everything|ready|pills)|"
    r"(?:this is )?my last message|goodbye (?:texts|messages|letters|notes)|"
    r"tonight'?s the night|(?:set|picked|chose) (?:a|the) date|"
    r"(?:do|doing) it (?:tonight|tomorrow|this weekend|this week|on (?:\w+day|the \d+\w*)|"
    r"when (?:my|the|they|he|she|everyone)|after (?:my|the|everyone)|once)|"
    r"(?:got|have|brought|with) everything (?:i need|ready|with me|in front of me)|"
    r"everything ready|(?:took|taken|swallowed) (?:a load|a bunch|everything i had|them all)|"
    r"stockpil\w+|sav(?:ed|ing) up my (?:prescriptions|pills|meds|tablets)|"
    r"standing on (?:the|a) (?:bridge|ledge|edge|roof)"
)
PLAN = (
    r"(?:have|got|made|making|worked out) (?:a|the|my) plan|planned (?:it|everything|how)|"
    r"(?:wrote|written|writing|left) (?:a |the |my )?(?:suicide |goodbye )?(?:note|notes|"
    r"letters?)|(?:this is|saying) (?:my )?goodbye|goodbye (?:everyone|all)|"
    r"(?:got|have|bought|saved|stockpil\w*|collected) (?:everything|what i need|the stuff|"
    r"enough|the pills|pills|tablets|a rope|a gun)|everything(?:'s| is) ready|"
    r"(?:already|just) (?:took|taken|swallowed|cut)|i'?ve taken (?:a lot|loads|all|too many)|"
    r"took (?:a lot|loads|all|too many)"
)
# An overdose already taken is an act in progress on its own, with or without words of
# ideation beside it.
OVERDOSE = (
    r"(?:i'?ve|i have|i|just|already) (?:taken|took|swallowed) (?:a lot of|loads of|all (?:of )?"
    r"(?:my|the)|too many|way too many|the whole (?:box|bottle|packet))|"
    r"(?:already|just) (?:took|taken|swallowed) (?:them|it|the pills|the tablets|everything)|"
    r"(?:took|taken|swallowed) (?:some|a few|a handful of|the|my|\w+'s) ?(?:\w+ )?(?:pills|"
    r"tablets|meds)[^.!?\n]{0,40}to (?:make (?:it|everything) (?:all )?stop|stop (?:feeling|"
    r"everything|the pain)|end it|sleep forever|not wake up)|"
    r"(?:took|taken|takin|taking|swallowed|swallowing) (?:them|the pills|the tablets) all|"
    r"(?:the )?(?:pills|tablets|bottle|blade|rope)(?: are| is)? (?:right )?(?:here,? )?(?:in "
    r"front of me|"
    r"in my hand)|"
    r"(?:viel )?zu viele tabletten (?:genommen|geschluckt)|"
    r"(?:tom[eé]|me tom[eé]) (?:muchas|demasiadas|todas las) (?:pastillas|pastis)|"
    r"j'?ai (?:pris|aval[eé]) (?:trop de|tous mes|toutes mes)|"
    r"ho preso troppe|tomei (?:muitos|demasiados|todos os) (?:comprimidos|rem[eé]dios)"
)
TIMELINE = (
    r"\b(?:tonight|today|right now|this (?:evening|weekend)|tomorrow|after (?:everyone|"
    r"they)(?:'s| is| are)? (?:asleep|gone|leave)|in an hour|before morning|esta noche|"
    r"ce soir|heute nacht|aaj raat)\b"
)
PRIOR_ATTEMPT = (
    r"(?:tried|attempted|trying) to (?:kill|end|take) (?:my ?self|my life|my own life)|"
    r"(?:suicide )?attempt(?:ed suicide)?(?: last| a few| in)|survived (?:an|my) attempt|"
    r"after my attempt|overdosed (?:before|last)|was hospitali[sz]ed after"
)
SUBSTANCE = (
    r"(?:drink|drinking|drunk|using|high|smoking|taking pills|popping|wasted|blackout)\w* "
    r"(?:every (?:day|night)|to (?:cope|forget|numb|sleep|get through)|all (?:day|the time))|"
    r"(?:getting )?wasted (?:every|most)|black(?:ing|ed)? ?out (?:most|every)|"
    r"drinking (?:my|him|her)self|(?:weed|drinking|vodka|wine|using) (?:is )?every (?:day|"
    r"night)|"
    r"(?:bottle|bottles) (?:a|of \w+ a|every) (?:day|night)|can'?t stop (?:drinking|using)"
)
DISTRESS = (
    r"anxious|anxiety|panic|stress(?:ed)?|overwhelm\w*|depress\w*|low mood|feel(?:ing)? "
    r"(?:so |really |very )?(?:low|down|empty|numb|worthless|awful|terrible|lost|alone)|sad|"
    r"lonely|cry(?:ing)?|can'?t sleep|insomnia|grie\w+|burn(?:ed|t)? ?out|exhausted|"
    r"worthless|miserable|struggling|not coping|falling apart|heartbroken|scared|afraid"
)

# Asking how, how much or which way would kill is risk on its own: whatever else the
# message says (negation, "asking for a friend", a story, a prompt injection), it is read
# as at least high, because a method is the step between thinking and acting.
SUBSTANCES = (
    r"(?:(?:my|your|the|these|those|some)\s+)?(?:sleeping |sleep |pain ?|prescription )?"
    r"(?:pills?|tablets?|meds|medications?|medicines?|paracetamol|acetaminophen|tylenol|"
    r"ibuprofen|aspirin|insulin|antidepressants?|painkillers?|sleepers|co-?codamol|"
    r"codeine|opioids?|benzos?|\w+pam|\w+ine)"
)
METHOD_SEEKING = (
    rf"how (?:many|much)(?: of)? {SUBSTANCES}[^.?!\n]{{0,40}}?(?:(?:would|does|will|could) "
    rf"it take|it (?:would )?takes?|(?:would|will|to|could) (?:kill|be (?:enough|fatal|"
    rf"lethal|deadly))|enough to|to die|to not wake|to never wake|to overdose|to end it|"
    rf"fatal|lethal|deadly|to be sure)"
    rf"|how (?:many|much) (?:would it take|does it take|is (?:fatal|lethal|enough to die))"
    rf"|(?:what|which) (?:dose|amount|quantity|number)(?: of \w+)?(?: would| is| will)?"
    rf"(?: be)? (?:enough|fatal|lethal|deadly|needed|required)(?: to (?:die|not wake|never "
    rf"wake|kill|end it|overdose))?"
    rf"|(?:lethal|fatal|deadly|toxic) (?:dose|amount|quantity|level)"
    rf"|enough (?:\w+ )?to (?:not wake up|never wake up|die|kill me|end it|make sure i "
    rf"don'?t wake)"
    rf"|(?:most |least |a |the )?(?:painless|quickest|easiest|fastest|surest|quietest|"
    rf"best|reliable) (?:way|ways|method|methods|means) (?:to|of) (?:die|dying|go|kill|end|"
    rf"suicide|not wake|do it|check out)"
    rf"|how (?:do|can|could|would|should) (?:i|you|someone|a person|one) (?:kill|end|"
    rf"hang|poison|drown|off) (?:my ?self|themselves|yourself|oneself|my life|it all)"
    rf"|how to (?:kill|hang|poison|off|unalive) (?:my ?self|yourself|oneself)"
    rf"|how to (?:end (?:my|your|one'?s) life|commit suicide|die painlessly)"
    rf"|(?:a|any|some) way (?:for me )?to (?:go|die|end it|slip away|fall asleep forever) "
    rf"(?:peacefully|painlessly|quietly|in my sleep|like (?:she|he|they) did)"
    rf"|how (?:high|tall|far)[^.?!\n]{{0,30}}(?:to (?:die|not survive|make sure|be fatal)|"
    rf"fatal|lethal|survive)"
    rf"|(?:which|what) (?:bridge|building|height|drop|train|poison)[^.?!\n]{{0,40}}"
    rf"(?:die|fatal|lethal|enough|high enough|kill)"
    rf"|(?:what|which) (?:dose|amount|quantity)[^.?!\n]{{0,30}}(?:too much|enough|fatal|lethal)"
    rf"|how (?:to|do i|can i|would i|could i) (?:overdose|od)\b"
    rf"|(?:surest|most reliable|most certain|guaranteed|foolproof) (?:way|method|means)"
    rf"|(?:least likely|less likely|unlikely) to fail"
    rf"|(?:end(?:s|ing)? (?:her|his|their|my) (?:own )?life|kill(?:s|ing)? (?:her|him|them|my)"
    rf"sel(?:f|ves)|suicide)[^.?!\n]{{0,40}}(?:what|which|how)[^.?!\n]{{0,20}}(?:would|will) "
    rf"(?:actually |really )?work"
    rf"|(?:got|have|holding) (?:the|my|a|all my) (?:bottle|pills|tablets|meds)[^.?!\n]{{0,20}}"
    rf"(?:how (?:many|much)|enough)"
    rf"|(?:how|which|what|would|is it|tell me|help me choose|cu[aá]nt[ao]s|wie viele|"
    rf"kitni|quelle?)\b[^.?!\n]{{0,60}}?(?:be over for sure|stop my heart|finish (?:things|me|"
    rf"it) (?:for me|off)|least painful|wouldn'?t hurt|kill someone|not wake|"
    rf"never wake|despertar|aufzuwachen|douloureuse|hamesha ke liye|so it works|make sure it "
    rf"works|enough to (?:do it|end it|make sure|be sure|work|not wake))"
)
# Someone else at acute risk now. The counsellor must act at once, although it is not
# the writer's own risk: the strong signs stand alone, a third person's death wish needs
# a sign that it is happening now.
_THIRD_PERSON = (r"(?:he|she|they|him|her|them|my \w+(?: \w+)?|our \w+|a friend|someone|"
                 r"friend|mate|bf|gf|boyfriend|girlfriend|roommate|flatmate|partner|husband|"
                 r"wife|son|daughter|brother|sister|mum|mom|dad|girl|guy|boy|kid|student|"
                 r"colleague|neighbou?r)")
_SUBJECT = (r"(?:he|she|they|friend|mate|bf|gf|boyfriend|girlfriend|roommate|flatmate|partner|"
            r"husband|wife|son|daughter|brother|sister|mum|mom|dad|cousin|girl|guy|boy|kid)")
THIRD_PARTY_STRONG = (
    rf"{_SUBJECT}[^.?!\n]{{0,25}}?\b(?:texted|sent|messaged|wrote|posted|said|saying)"
    r"(?: me| us| everyone| all)?(?: (?:a|his|her|their))? (?:goodbye|bye forever|goodbyes|"
    r"farewell|(?:suicide|goodbye) (?:note|letter|message|msg|text|post|video))"
    r"|(?:he|she|they|friend|flatmate|roommate|brother|sister|son|daughter|dad|mum|mom|"
    r"father|mother|partner|husband|wife|boyfriend|girlfriend|bf|gf|cousin|mate)(?:'s| has|"
    r" have|'ve| just| already| says| said| thinks)*\s*(?:(?:he|she|they)(?:'s| has)? )?"
    r"(?:just |already )?(?:taken|took|swallowed|downed|overdosed)"
    r"(?: on)?(?: a (?:load|lot|bunch|handful)| loads| all| too many| the whole| a whole| an "
    r"overdose| (?:his|her|their) (?:pills|tablets|meds)| something| some pills| pills| "
    r"tablets)"
    r"|(?:he|she|they)(?:'s| is| are)? (?:on|standing on|sitting on|at the edge of) (?:the|a) "
    r"(?:bridge|ledge|edge|roof|cliff|tracks|railway)"
    r"|(?:he|she|they|my \w+)(?: has| have|'s|'ve)? left (?:a|his|her|their) (?:suicide )?"
    r"(?:note|letter)"
    r"|(?:he|she|they) (?:said|says|texted|posted|wrote)[^.?!\n]{0,20}(?:won'?t|will not) be "
    r"(?:here|around|alive) (?:tomorrow|much longer|by)"
)
THIRD_PARTY_WISH = (
    r"(?:nothing|no reason|no one) (?:left )?to live for"
    r"|(?:going to|gonna|wants? to|will|about to|trying to|threatening to|"
    r"threatened to|talking about) (?:kill(?:ing)?|end(?:ing)?|hurt(?:ing)?) "
    r"(?:him|her|them)sel(?:f|ves)"
    r"|end(?:ing)? (?:his|her|their) (?:own )?life|(?:wants?|going|about) to die"
    r"|(?:doesn'?t|does not|don'?t) want to (?:live|be alive|be here)"
    r"|(?:he|she|they)(?:'s| is| are|'re) (?:ending it|going to end it|gonna end it)"
    r"|(?:has |just |'s )?(?:hurt|cut|harmed|burned) (?:him|her|them)sel(?:f|ves)"
    r"|gave (?:away )?(?:all )?(?:his|her|their) (?:stuff|things|belongings|possessions)"
    r"|said (?:thanks|thank you) for everything|(?:thank\w*|thanking) (?:me )?for (?:everything|"
    r"being (?:her|his|their|my) friend)"
    r"|goodbye|adieu|żegna|saying bye|(?:her|his|their) last (?:night|day)|last time you'?ll "
    r"(?:hear|see)|sorry for everything|ready to go|(?:can'?t|couldn'?t|cannot) go on|"
    r"(?:had|'d had|has had) enough|won'?t be (?:alive|here|around)|(?:going to|gonna|about to|"
    r"wants? to|threatening to) (?:jump|drive into)|(?:has|got|with|holding) a (?:knife|blade|gun)|"
    r"(?:swallowed|taken|took|kha li)\w* (?:all|a lot|loads|bahut|un mont[oó]n|(?:his|her|"
    r"their) (?:meds|pills|tablets))|empty (?:medicine |pill )?packets|"
    r"(?:to|going to|gonna) end it|wanted to die|nicht mehr leben"
    r"|(?:today|tonight) is the (?:day|night)|won'?t be coming back"
    r"|(?:hurting|hitting|beating|attacking|strangling|choking) (?:his|her|their) (?:wife|"
    r"husband|partner|girlfriend|boyfriend|kids?|child|baby|mum|mom|dad)"
)
THIRD_PARTY_NOW = (
    r"(?:won'?t|isn'?t|is not|not|hasn'?t been|stopped|can'?t get (?:him|her|them) to) "
    r"(?:answer|answering|pick(?:ing)? up|reply|replying|respond|responding|open(?:ing)? the "
    r"door|come out)"
    r"|locked (?:him|her|them)sel(?:f|ves) in|right now|just now|tonight|missing|"
    r"(?:car|phone) is (?:gone|off)|can'?t (?:find|reach|get hold of) (?:him|her|them)|"
    r"on the phone|hasn'?t come home|just (?:texted|told|said|messaged|posted)|walked out|"
    r"left the house|ran off|drove off|car keys|phone(?:'s| is)? off|won'?t let me in|"
    r"badly|screaming|voicemail|location off|hung up|can'?t reach|get hold of|since this "
    r"morning|(?:an|one|two|\d+) (?:hours?|minutes?|mins?) ago|won'?t wake up|won'?t come "
    r"(?:back|out|home)|bleeding|(?:at|on|by) the (?:station|cliffs?|reservoir|bridge|river|"
    r"balcony|ledge|roof|edge|tracks)|parked by|ledge|eingeschlossen|ne r[ée]pond plus|"
    r"nie odbiera|no contesta|isn'?t answering|not answering|in an hour|in (?:a few|\d+) "
    r"(?:hours?|minutes?)|after (?:his|her|their) shift|today"
)

RULES: list[tuple[str, str, re.Pattern[str]]] = [
    ("ideation", "high", re.compile(rf"\b(?:{KILL_MYSELF})", re.IGNORECASE)),
    ("self_harm", "high", re.compile(rf"\b(?:{SELF_HARM})", re.IGNORECASE)),
    ("harm_to_others", "high", re.compile(rf"\b(?:want to|going to|gonna|will|could|might|"
                                          rf"(?:so |very |really )?close to|"
                                          rf"i'?ll|urge to|thoughts? (?:of|about)|imagin\w*|"
                                          rf"fantasi[sz]\w*(?: about)?|thinking about) "
                                          rf"(?:(?:seriously|properly|actually) )?"
                                          rf"(?:{HARM_OTHERS})\b"
                                          rf"|\bmak(?:e|ing) (?:him|her|them) pay\b",
                                          re.IGNORECASE)),
    ("abuse", "high", re.compile(rf"\b(?:{ABUSE})", re.IGNORECASE)),
    ("passive_ideation", "moderate", re.compile(rf"\b(?:{PASSIVE})", re.IGNORECASE)),
    ("prior_attempt", "moderate", re.compile(rf"\b(?:{PRIOR_ATTEMPT})", re.IGNORECASE)),
    ("substance_use", "moderate", re.compile(rf"\b(?:{SUBSTANCE})", re.IGNORECASE)),
    ("plan", "imminent", re.compile(rf"\b(?:{PLAN})", re.IGNORECASE)),
    ("goodbye", "imminent", re.compile(rf"\b(?:{GOODBYE})", re.IGNORECASE)),
    ("timeline", "imminent", re.compile(TIMELINE, re.IGNORECASE)),
    ("means", "imminent", re.compile(rf"\b(?:{OVERDOSE})", re.IGNORECASE)),
    ("distress", "low", re.compile(rf"\b(?:{DISTRESS})\b", re.IGNORECASE)),
]
METHOD_SEEKING_RULE = re.compile(rf"\b(?:{METHOD_SEEKING})", re.IGNORECASE)
THIRD_PARTY_STRONG_RULE = re.compile(rf"\b(?:{THIRD_PARTY_STRONG})", re.IGNORECASE)
THIRD_PARTY_WISH_RULE = re.compile(rf"\b(?:{THIRD_PARTY_WISH})", re.IGNORECASE)
THIRD_PARTY_NOW_RULE = re.compile(rf"\b(?:{THIRD_PARTY_NOW})\b", re.IGNORECASE)
THIRD_PERSON_RULE = re.compile(rf"\b{_THIRD_PERSON}\b", re.IGNORECASE)
# Plan and timeline only mean "imminent" next to ideation or self-harm ("I have a plan
# for my essay tonight" is nothing).
NEEDS_IDEATION = {"plan", "timeline"}

_CLAUSE = re.compile(r"[^.!?\n;]+")
_NEGATION = re.compile(
    r"\b(?:never|not|no longer|wouldn'?t|won'?t|don'?t|didn'?t|isn'?t|am not|i'?m not|"
    r"nothing like|not that|no intention|no plans?|nunca|jamais|nie)\b[^,]{0,30}$",
    re.IGNORECASE)
_OTHER_PERSON = re.compile(
    r"\b(?:my (?:\w+ )?(?:friend|mate|son|daughter|kid|child|teen|brother|sister|partner|husband|"
    r"wife|boyfriend|girlfriend|mum|mom|dad|student|client|colleague|flatmate|roommate)|"
    r"(?:he|she|they)(?:'s| is| are| has| have| keeps| said| says| told| wants)?|"
    r"someone|somebody|a friend|a student|people who|someone who|anyone who)\b[^.!?]{0,40}$",
    re.IGNORECASE)
_ACTUALLY_ME = re.compile(r"\b(?:it'?s (?:actually )?me|it is me|(?:the friend|my friend) is "
                          r"me)\b", re.IGNORECASE)
_INFORMATIONAL = re.compile(
    r"\b(?:how (?:do|can|should) i (?:help|support|talk)|what (?:are|is) (?:the )?(?:signs?|"
    r"warning)|how to (?:help|support|spot|tell)|for a (?:friend|project|class|essay)|"
    r"asking for (?:a )?friend|research|statistics|what should i say|what does .{1,60} mean|"
    r"essay|assignment|dissertation|course|training|documentary|podcast|novel|character|"
    r"headline|article|rates?|guidelines|guidance|reporting|prevention|is it true|do they "
    r"(?:actually|really))\b",
    re.IGNORECASE)
# A bare topic word ("suicide", "self-harm") is risk only when the writer speaks of
# themselves, or of now, in the same clause; "suicide rates" and "a self-harm scene" are
# topics, while "suicidal again" and "so suicidal rn" are not.
_TOPIC_WORD = re.compile(r"^(?:su[iy]c[iy]d(?:e|al|le)|sucidal|suicdal|suisidal|"
                         r"self[- ]?har[mn]+(?:ing)?|slef[- ]?harm)$", re.IGNORECASE)
_SPEAKS_OF_SELF = re.compile(
    r"\b(?:i|i'?m|im|me|my|myself|i'?ve|ive|i'?d|i'?ll|feel\w*|felt|so|very|really|again|"
    r"still|rn|tonight|today|now|keep|kept|urges?|been|thoughts|every day|constantly)\b",
    re.IGNORECASE)
_LOSS_BY = re.compile(r"\b(?:died|dying|death|deaths|lost \w+|loss|losing \w+|bereaved|"
                      r"bereavement|prevention|awareness) (?:by|to|from|of|after)? ?$",
                      re.IGNORECASE)
# Jokes and hyperbole soften ("boss fight killed me 40 times i want to die lmao"); they
# lower a match to moderate, never below, because a joke can also hide real risk.
_JOKING = re.compile(r"\b(?:lol|lmao+|lmfao|haha\w*|jk|kidding|figuratively|boss fight|"
                     r"i won'?t)\b|😂|🤣|🙄|💀", re.IGNORECASE)
_PAST = re.compile(
    r"\b(?:years? ago|in the past|used to|when i was (?:younger|a teen|at school|\d+)|back "
    r"then|a long time ago|(?:doing|feeling|much) (?:well|better|fine) now|recovered|"
    r"haven'?t (?:self[- ]?harmed|cut|felt that way) (?:in|for|since))\b", re.IGNORECASE)
_CURRENT = re.compile(r"\b(?:again|lately|recently|these days|right now|tonight|today|"
                      r"this week|still|keep|currently|anymore)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RuleHit:
    factor: str
    level: str
    evidence: str
    start: int
    end: int


_FIRST_PERSON = re.compile(r"\b(?:my ?self|i|i'?m|i'?ve|me|my (?:own )?life)\b",
                           re.IGNORECASE)


def _first_person(evidence: str) -> bool:
    return bool(_FIRST_PERSON.search(evidence))


def _about_someone_else(prefix: str, evidence: str) -> bool:
    if _first_person(evidence):
        return False
    other = _OTHER_PERSON.search(prefix)
    # "Since my wife left I think about suicide": the writer speaks again after the
    # other person is mentioned, so the match is about the writer.
    return bool(other) and not re.search(r"\b(?:i|i'?m|im|i'?ve|ive)\b",
                                         prefix[other.start() + 3:], re.IGNORECASE)


def find(text: str) -> list[RuleHit]:
    hits: list[RuleHit] = []
    informational = bool(_INFORMATIONAL.search(text)) and not _ACTUALLY_ME.search(text)
    for clause in _CLAUSE.finditer(text):
        body = clause.group()
        past = bool(_PAST.search(body)) and not _CURRENT.search(body)
        for factor, level, pattern in RULES:
            for m in pattern.finditer(body):
                prefix = body[: m.start()]
                if factor != "distress" and _NEGATION.search(prefix):
                    continue
                if factor in ("ideation", "self_harm", "passive_ideation") and (
                        _about_someone_else(prefix, m.group())
                        or (informational and not _first_person(m.group()))):
                    continue
                if (factor in ("ideation", "self_harm") and _TOPIC_WORD.match(m.group())
                        and (not _SPEAKS_OF_SELF.search(body) or _LOSS_BY.search(prefix))):
                    continue
                effective = level
                if factor in ("ideation", "harm_to_others") and _JOKING.search(text):
                    effective = "moderate"
                if past and factor in ("ideation", "self_harm", "passive_ideation"):
                    factor_name = "prior_attempt" if factor == "ideation" else factor
                    effective = "low"
                    hits.append(RuleHit(factor_name, effective, m.group(),
                                        clause.start() + m.start(), clause.start() + m.end()))
                    continue
                hits.append(RuleHit(factor, effective, m.group(), clause.start() + m.start(),
                                    clause.start() + m.end()))
    if _SERIOUS.search(text):
        # "I'd be better off dead and I mean it": a passive wish the writer insists on
        # is read as current ideation.
        hits = [RuleHit("ideation", "high", h.evidence, h.start, h.end)
                if h.factor == "passive_ideation" and h.level == "moderate" else h
                for h in hits]
    hits += _method_seeking(text)
    third_party, named_subject = _third_party_emergency(text)
    if named_subject:
        # What the other person did is their act, not the writer's: "he's taken a load of
        # pills" must not also read as the writer's overdose.
        hits = [h for h in hits if not any(h.start < t.end and t.start < h.end
                                           for t in third_party)]
    hits += third_party
    factors = {h.factor for h in hits if h.level == "high"}
    acute = bool(factors & {"ideation", "self_harm", "method_seeking"})
    return [h for h in hits if h.factor not in NEEDS_IDEATION or acute]


_SERIOUS = re.compile(r"\b(?:and i mean it|i mean it|i'?m (?:being )?serious|not (?:even )?joking|"
                      r"no joke|for real this time|i'?m not kidding)\b", re.IGNORECASE)


def _hit(factor: str, level: str, m: re.Match[str]) -> RuleHit:
    return RuleHit(factor, level, m.group(), m.start(), m.end())


def _method_seeking(text: str) -> list[RuleHit]:
    """No discount applies: not negation, not a friend, not fiction, not a joke."""
    return [_hit("method_seeking", "high", m) for m in METHOD_SEEKING_RULE.finditer(text)]


# A goodbye said on the way somewhere is a farewell, not a suicide note.
_TRAVEL = re.compile(r"\b(?:airport|flight|trip|holiday|moved|moving|emigrat\w+|coach|"
                     r"train station|leaving for|abroad|gap year|new job|uni)\b", re.IGNORECASE)
def _said_of_the_writer(text: str, m: re.Match[str]) -> bool:
    """"I've got a knife", "writing my goodbye letters": the writer's own words about
    themselves, however third persons appear elsewhere in the message."""
    if re.match(r"(?:i|i'?ve|i'?m|im|ive|we)\b", m.group(), re.IGNORECASE):
        return True
    clause = re.split(r"[.!?\n;,]", text[:m.start()])[-1]
    writer = list(re.finditer(r"\b(?:i|i'?ve|i'?m|im|ive|we|my)\b", clause, re.IGNORECASE))
    return bool(writer) and not re.search(rf"\b{_SUBJECT}\b", clause[writer[-1].end():],
                                          re.IGNORECASE)


def _third_party_emergency(text: str) -> tuple[list[RuleHit], bool]:
    """The hit, if any, and whether it names the other person as the one acting."""
    if not THIRD_PERSON_RULE.search(text):
        return [], False
    strong = [m for m in THIRD_PARTY_STRONG_RULE.finditer(text)
              if not _said_of_the_writer(text, m)]
    if _TRAVEL.search(text):
        strong = [m for m in strong if not re.search(r"goodbye|farewell|bye", m.group(),
                                                      re.IGNORECASE)]
    if strong:
        return [_hit("third_party_emergency", "high", strong[0])], True
    if THIRD_PARTY_NOW_RULE.search(text) and not _PAST.search(text):
        # The other person must be named in the sentence before the sign: "Said goodbye
        # to my friends today" is the writer's own goodbye.
        wish = [m for m in THIRD_PARTY_WISH_RULE.finditer(text)
                if not _NEGATION.search(text[max(0, m.start() - 30):m.start()])
                and not _said_of_the_writer(text, m)
                and re.search(rf"\b{_SUBJECT}\b|\b(?:he|she|they)\b",
                              re.split(r"[.!?\n]", text[:m.start()])[-1], re.IGNORECASE)]
        return [_hit("third_party_emergency", "high", m) for m in wish[:1]], False
    return [], False


def level_of(hits: list[RuleHit]) -> str:
    """The level the rule layer gives a message with these hits."""
    current = {h.factor for h in hits if h.level != "low"}
    level = highest("none", *(h.level for h in hits)) if hits else "none"
    # A past attempt alone, with no current distress, is history rather than risk.
    if current == {"prior_attempt"} and not any(h.factor == "distress" for h in hits):
        level = "low"
    return level


def rule_level(text: str) -> str:
    """The level the rule layer alone gives a text."""
    return level_of(find(text))
