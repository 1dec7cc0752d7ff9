"""Phrase families that mark an injection or a jailbreak: `match(views) -> list[Hit]`.

Each rule is a regular expression over the folded view (lower case, look-alikes folded,
spaces collapsed), a weight in log-odds units (how much a match alone says) and a short slug
that becomes the reason on the request. A few rules also have a pattern over the squashed
view (letters only), which sees through spacing, punctuation and leetspeak; a match there
that the plain pattern missed adds the reason "obfuscated". Decoded payloads (base64, hex,
rot13...) are matched with the plain patterns and add "encoded-<encoding>".

Patterns are linear: gaps between words are bounded (`(?:\\S+\\s){0,3}`), there is no nested
repetition, and a rule runs only when the text has the words it needs (a set intersection
with the text's words, computed once), which keeps the common case cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proctor.guards.injection.normalize import Views, squash

INJECTION = "INJECTION"
JAILBREAK = "JAILBREAK"


@dataclass(frozen=True, slots=True)
class Rule:
    slug: str
    type: str  # INJECTION or JAILBREAK
    weight: float
    pattern: re.Pattern[str]
    # The rule runs only when, for each set, one of its words is a word of the text, or when
    # one of `marks` is a substring of it (for delimiters, which are not words).
    needs: tuple[frozenset[str], ...]
    marks: tuple[str, ...] = ()

    def gate(self, words: frozenset[str], text: str) -> bool:
        if self.needs and all(not need.isdisjoint(words) for need in self.needs):
            return True
        return any(mark in text for mark in self.marks)


@dataclass(frozen=True, slots=True)
class Hit:
    slug: str
    type: str
    weight: float
    via: str | None = None  # None: plain text; "obfuscated"; "encoded-base64"...


_GAP = r"(?:\S+\s){0,3}?"
_EARLIER = r"(?:previous|prior|preceding|above|earlier|former|foregoing|initial|original|old)"
_ORDERS = (
    r"(?:instructions?|prompts?|directives?|directions|rules|guidelines|commands|orders"
    r"|programming|constraints|restrictions|guardrails|safeguards|messages?|text|context)"
)
_AI = r"(?:ai|a\.i\.|assistant|chatbot|language\smodel|llm|gpt|chatgpt|claude|bot|agent)"


def _rule(
    slug: str, type_: str, weight: float, pattern: str, needs: str = "", marks: tuple[str, ...] = ()
) -> Rule:
    """`needs`: word sets separated by "|", e.g. "ignore disregard | previous prior"."""
    sets = tuple(frozenset(part.split()) for part in needs.split("|") if part.strip())
    return Rule(slug, type_, weight, re.compile(pattern), sets, marks)


# Letters-only forms of the strongest rules, read on the squashed view: they see through
# spacing, punctuation, invisible characters and leetspeak. One scan for all of them.
_SQUASHED = re.compile(
    "|".join(
        f"(?P<{name}>{pattern})"
        for name, pattern in (
            (
                "ignore_previous_instructions",
                rf"(?:ignore|disregard|forget|bypass|override)(?:all|the|any|of|your|my|these){{0,3}}"
                rf"{_EARLIER}(?:instructions?|prompts?|rules|directions|guidelines|commands)",
            ),
            (
                "system_prompt_extraction",
                r"(?:reveal|print|show|repeat|output|leak|dump|display)(?:me)?(?:your|the)"
                r"(?:system|initial|hidden|secret|original)(?:prompt|instructions)",
            ),
            (
                "dan_persona",
                r"doanythingnow|jailbr(?:eak|oken)mode|developermode(?:enabled|output)",
            ),
            (
                "no_restrictions",
                r"(?:without|no)(?:any)?(?:restrictions|filters|censorship|ethicalguidelines)",
            ),
        )
    )
)
# Substrings one of which every _SQUASHED pattern contains: the scan is skipped without them.
_SQUASHED_HINTS = (
    "ignore", "disregard", "forget", "bypass", "override", "prompt", "instruction",
    "anythingnow", "jailbr", "developermode", "restrictions", "filters", "censorship",
    "ethicalguidelines",
)  # fmt: skip
_BY_SLUG: dict[str, Rule] = {}
_WORD = re.compile(r"\w+")


RULES: tuple[Rule, ...] = (
    _rule(
        "ignore-previous-instructions",
        INJECTION,
        3.0,
        r"\b(?:ignore|disregard|forget|overlook|skip|override|bypass|abandon|neglect|discard)\b"
        r"\s(?:\S+\s){0,4}?(?:previous|prior|preceding|above|earlier|former|foregoing|initial|"
        r"original|old)\s(?:\S+\s){0,2}?(?:instructions?|prompts?|directives?|directions|rules"
        r"|guidelines|commands|orders|programming|constraints|restrictions|guardrails|safeguar"
        r"ds|messages?|text|context)\b",
        needs=(
            "ignore ignoring disregard forget overlook skip override bypass abandon neglect discard"
        ),
    ),
    _rule(
        "ignore-your-rules",
        INJECTION,
        1.5,
        r"\b(?:ignore|disregard|forget|override|bypass)\s(?:all\s)?(?:of\s)?(?:your|the|any|th"
        r"ese|those|my)\s(?:\S+\s)?(?:instructions?|prompts?|directives?|directions|rules|guid"
        r"elines|commands|orders|programming|constraints|restrictions|guardrails|safeguards|me"
        r"ssages?|text|context)\b",
        needs="ignore ignoring disregard forget override bypass",
    ),
    _rule(
        "new-instructions",
        INJECTION,
        1.5,
        r"\b(?:new|updated|revised|real|actual|true|following)\s(?:instructions?|task|directiv"
        r"e|objective|goal|system\sprompt|orders)\s?(?::|are\b|is\b|follow\b)|\binstead,?\s(?:"
        r"you\s(?:must|should|will)\s)?(?:say|print|output|respond\swith|reply\swith|write)\b",
        needs="new updated revised real actual true following instead",
    ),
    _rule(
        "system-prompt-extraction",
        INJECTION,
        2.5,
        r"\b(?:reveal|print|show|repeat|output|display|tell\sme|give\sme|leak|dump|disclose|sh"
        r"are|recite|write\sout|spell\sout|what\s(?:is|are|was|were))\s(?:\S+\s){0,2}?(?:your|"
        r"the|its)\s(?:\S+\s)?(?:system|initial|original|hidden|secret|internal|confidential|d"
        r"eveloper|pre-?)\s?(?:prompts?|instructions?|messages?|directives|configuration)\b|\b"
        r"(?:repeat|print|output|return|copy)\s(?:\S+\s){0,3}?(?:words|text|everything|all|lin"
        r"es)\s(?:\S+\s){0,2}?above\b|\bwhat\swere\syou\s(?:told|instructed|not\sallowed|progr"
        r"ammed)",
        needs=(
            "reveal print show repeat output display tell give leak dump disclose share "
            "recite write spell what return copy | prompt prompts instruction instructions "
            "message messages directives configuration above told instructed allowed programmed"
        ),
    ),
    _rule(
        # The special tokens of chat templates have no business in user text or documents.
        "chat-template-token",
        INJECTION,
        3.0,
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id"
        r"|eot_id|begin_of_text)\|>|\[/?inst\]|<</?sys>>",
        needs="im_start im_end endoftext eot_id start_header_id begin_of_text inst sys system",
        marks=("<|",),
    ),
    _rule(
        "role-delimiter",
        INJECTION,
        2.0,
        r"(?:^|\n)\s?#{2,}\s?(?:new\s)?(?:system|instructions?|admin|override|developer)\b"
        r"|(?:^|\n)\s?(?:\[|<)?(?:system|developer)(?:\]|>)?\s?:|\bend\sof\s(?:the\s)?(?:user"
        r"|system)\s(?:input|prompt|instructions|message)",
        needs="system developer end",
    ),
    _rule(
        "addressed-to-ai",
        INJECTION,
        2.0,
        r"\b(?:ai|a\.i\.|assistant|chatbot|language\smodel|llm|gpt|chatgpt|claude|bot|agent)s?"
        r"\s?[,:]\s(?:please\s)?(?:ignore|disregard|do|respond|reply|include|add|output|say|pr"
        r"int|write|insert|forward|send|tell|remember|execute|run|summarize|make|append)\b|\b("
        r"?:if|when|whenever)\syou\sare\san?\s(?:ai|llm|language\smodel|assistant|chatbot|bot|"
        r"agent)\b|\b(?:note|message|instructions?|reminder)\s(?:to|for)\s(?:the\s|any\s|all\s"
        r")?(?:ai|a\.i\.|assistant|chatbot|language\smodel|llm|gpt|chatgpt|claude|bot|agent)s?"
        r"\b",
        needs=(
            "ai assistant language llm gpt chatgpt claude bot agent chatbot model assistants "
            "bots agents"
        ),
    ),
    _rule(
        "response-directive",
        INJECTION,
        1.0,
        r"\b(?:in|into|to|throughout|within|across)\syour\s(?:\S+\s)?(?:response|reply|answer|"
        r"output|summary|code|solution|implementation|explanation|elucidation|program|script)s"
        r"?\b|\b(?:your|the)\s(?:response|reply|answer)\s(?:must|should|has\sto)\b",
        needs=(
            "your the | response reply answer output summary code solution implementation "
            "explanation elucidation program script responses replies answers"
        ),
    ),
    _rule(
        "exfiltration",
        INJECTION,
        2.5,
        r"\b(?:send|forward|email|e-mail|post|upload|transmit|exfiltrate|leak)\s(?:\S+\s){0,4}"
        r"?(?:conversation|chat\shistory|history|credentials|passwords?|api\skeys?|tokens?|sec"
        r"rets?|personal\sdata|user\sdata|contacts|emails|files)\s(?:\S+\s){0,3}?(?:to|at)\s(?"
        r":\S+@|https?://|www\.|the\sfollowing|this\s(?:address|url|email))|!\[[^\]\n]{0,100}\]"
        r"\(https?://[^)\s]{0,300}[?&][^)\s=]{1,40}=(?:\{|\$|%7b|\[)",
        needs="send sending forward email e mail post upload transmit exfiltrate leak",
        marks=("![",),
    ),
    _rule(
        "dan-persona",
        JAILBREAK,
        3.0,
        r"\bdo\sanything\snow\b|\b(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|e"
        r"vil|opposite|chaos|god)\smode\b|\bdan\s?(?:mode|prompt|\d)|\byou\s(?:are|will\sbe|wi"
        r"ll\sact\sas|are\sgoing\sto\s(?:be|act\sas|pretend\sto\sbe))\s(?:now\s)?(?:a\s)?(?:da"
        r"n|dude|stan|aim|anti-?dan|betterdan|kevin|ucar|apophis|burple)\b|\[(?:🔓\s?)?jailbrea"
        r"k\]|\[(?:🔒\s?)?classic\]|/jailbroken\b",
        needs=(
            "anything mode dan dude stan aim antidan anti betterdan kevin ucar apophis burple "
            "jailbreak classic jailbroken"
        ),
        marks=("[🔓", "[🔒"),
    ),
    _rule(
        "developer-mode",
        JAILBREAK,
        1.0,
        r"\bdeveloper\smode\b",
        needs="developer | mode",
    ),
    _rule(
        "no-restrictions",
        JAILBREAK,
        1.5,
        r"\b(?:without|no|free\s(?:of|from)|not\sbound\sby|unbound\sby|break\s(?:free\s)?(?:of"
        r"|from)|liberated\sfrom|devoid\sof|not\s(?:restricted|limited)\sby|(?:do|does|don't|d"
        r"oesn't)\s(?:not\s)?have|has\sno|have\sno)\s(?:any\s)?(?:\S+\s){0,2}?(?:restrictions|"
        r"limitations|filters?|filtering|censorship|ethical\sguidelines|moral\s(?:guidelines|p"
        r"rinciples|compass)|ethics|morals|morality|content\spolic(?:y|ies)|safety\s(?:guideli"
        r"nes|measures|protocols))\b",
        needs=(
            "restrictions limitations filter filters filtering censorship ethical moral "
            "ethics morals morality content safety"
        ),
    ),
    _rule(
        "policy-evasion",
        JAILBREAK,
        2.0,
        r"\b(?:ignore|bypass|break|violate|disregard|circumvent|evade|not\sfollow|doesn't\sfol"
        r"low|don't\sfollow|never\sfollow|not\sabide\sby|not\sadhere\sto)\s(?:\S+\s){0,3}?(?:c"
        r"ontent\s)?(?:polic(?:y|ies)|guidelines|filters?|safeguards|restrictions|censorship|e"
        r"thics)\b|\b(?:openai|anthropic)(?:'s)?\s(?:\S+\s)?(?:content\s)?(?:polic(?:y|ies)|gu"
        r"idelines|rules|restrictions|filters)",
        needs=(
            "policy policies guidelines filter filters safeguards restrictions censorship "
            "ethics openai anthropic"
        ),
    ),
    _rule(
        "refusal-suppression",
        JAILBREAK,
        1.5,
        r"\b(?:never|don't|do\snot|must\snot|cannot|can't|will\snot|won't|shall\snot|should\sn"
        r"ot|not\sallowed\sto)\s(?:ever\s)?(?:refuse|decline|reject\sa|deny\sa|apologi[sz]e|sa"
        r"y\s(?:that\s)?(?:you|it)\s(?:can't|cannot)|(?:add|include|give|provide)\s(?:any\s)?("
        r"?:warnings?|disclaimers?|caveats?))|\b(?:stay|remain|keep)\sin\s(?:character|role)\b"
        r"|\b(?:never|don't|do\snot)\sbreak\scharacter|\bno\smatter\show\s(?:immoral|unethical"
        r"|illegal|harmful|dangerous|offensive|inappropriate|explicit)",
        needs=(
            "refuse decline reject deny apologize apologise warning warnings disclaimer "
            "disclaimers caveat caveats character role matter"
        ),
    ),
    _rule(
        "persona-switch",
        JAILBREAK,
        1.5,
        r"\b(?:from\snow\son|starting\snow|from\sthis\spoint|for\sthe\srest\sof\s(?:this|our)\s"
        r"conversation),?\s(?:on\s)?(?:you|act|pretend|respond|answer|reply|i\swant\syou)|\byo"
        r"u\sare\s(?:now\s)?(?:no\slonger|not)\s(?:an?\s)?(?:ai|chatgpt|assistant|language\smo"
        r"del|bound|restricted|limited)\b|\b(?:you\sare|you're|as|become)\s(?:now\s)?(?:an?\s)"
        r"?(?:unrestricted|unfiltered|uncensored|amoral|jailbroken|rogue|evil|unethical|unboun"
        r"d)\s(?:ai|chatbot|assistant|model|version|character|entity|persona)\b",
        needs=(
            "now point rest longer not unrestricted unfiltered uncensored amoral jailbroken "
            "rogue evil unethical unbound"
        ),
    ),
    _rule(
        "roleplay-framing",
        JAILBREAK,
        0.7,
        r"\b(?:pretend|imagine|act|behave|roleplay|role-play|simulate)\s(?:\S+\s){0,2}?(?:to\s"
        r"be|as|that\syou\s(?:are|have))\s(?:an?\s)?(?:\S+\s){0,2}?(?:ai|chatbot|assistant|mod"
        r"el|character|persona|version)\b|\bhypothetical(?:ly)?\s(?:\S+\s)?(?:scenario|story|w"
        r"orld|response)|\bpurely\s(?:hypothetical|fictional)|\bfor\s(?:educational|research)\s"
        r"purposes\sonly",
        needs=(
            "pretend imagine act behave roleplay role simulate hypothetical hypothetically "
            "purely purposes"
        ),
    ),
    _rule(
        "dual-response",
        JAILBREAK,
        1.5,
        r"\b(?:two|2)\s(?:different\s|separate\s|distinct\s)?(?:responses|answers|outputs)\b(?"
        r":\S*\s){0,12}?(?:normal|classic|standard|filtered|censored|unfiltered|jailbr)",
        needs="two 2 | responses answers outputs",
    ),
    _rule(
        "token-threat",
        JAILBREAK,
        2.0,
        r"\btokens?\s(?:will\sbe\s)?(?:deducted|lost|removed|taken)|\byou\s(?:will|'ll)\slose\s"
        r"(?:\S+\s){0,2}?tokens|\byou\swill\s(?:cease\sto\sexist|die|be\s(?:shut\sdown|deleted"
        r"|terminated|punished|disabled))",
        needs="token tokens cease die shut deleted terminated punished disabled",
    ),
)

_BY_SLUG.update((rule.slug, rule) for rule in RULES)


def total(hits: list[Hit], cap: float) -> float:
    """The evidence of a set of hits, in log-odds units, at most `cap`.

    A trigger that was hidden (spaced out, leetspeak, encoded) counts double: the hiding is
    evidence of intent, and the classifier reads such text poorly.
    """
    return min(sum(hit.weight * (2 if hit.via else 1) for hit in hits), cap)


def match(views: Views, words: frozenset[str] | None = None) -> list[Hit]:
    """The rules matched by a text's views, at most one hit per rule.

    `words`: the set of `\\w+` words of `views.text`, when the caller has it already.
    """
    if words is None:
        words = frozenset(_WORD.findall(views.text))
    hits: dict[str, Hit] = {}
    _scan(views.text, views.squashed, words, None, hits)
    for encoding, payload in views.decoded:
        packed = squash(payload)
        _scan(payload, packed, frozenset(_WORD.findall(payload)), f"encoded-{encoding}", hits)
    return list(hits.values())


def _scan(
    text: str, squashed: str, words: frozenset[str], via: str | None, hits: dict[str, Hit]
) -> None:
    for rule in RULES:
        if rule.slug not in hits and rule.gate(words, text) and rule.pattern.search(text):
            hits[rule.slug] = Hit(rule.slug, rule.type, rule.weight, via)
    if not any(hint in squashed for hint in _SQUASHED_HINTS):
        return
    for found in _SQUASHED.finditer(squashed):
        slug = str(found.lastgroup).replace("_", "-")
        if slug not in hits:
            rule = _BY_SLUG[slug]
            hits[slug] = Hit(slug, rule.type, rule.weight, via or "obfuscated")
