"""Expected answer types of a question and whether a sentence holds one (regex heuristics).

who -> a person or organisation, when -> a date or time, how many/much -> a quantity,
where -> a place. No model: capitalisation, numbers, month and unit words. A candidate only
counts when it is not already a word of the question ("Who founded Apple?" is not answered
by a sentence whose only name is "Apple").
"""
from __future__ import annotations

import re

from rag.lexical import words

PERSON, DATE, QUANTITY, PLACE = "person", "date", "quantity", "place"
TYPES = (PERSON, DATE, QUANTITY, PLACE)

_RULES = (  # a quantity wins wherever it stands ("how many years", "how old ... when"); of
            # the others the earliest match ("Who was president when ..."), ties in this order
    (QUANTITY, re.compile(r"\bhow (many|much|long|far|old|large|big|tall|high|often|fast|"
                          r"deep|wide|heavy)\b|\bwhat (percentage|percent|proportion|number|"
                          r"amount|fraction|share)\b", re.I)),
    (DATE, re.compile(r"\bwhen\b|\b(what|which|in what) (year|years|date|day|month|century|"
                      r"decade|time|period|era|season)\b|\bwhat time\b", re.I)),
    (PLACE, re.compile(r"\bwhere\b|\b(what|which|in what|in which) (country|city|town|place|"
                       r"region|state|continent|province|location|river|island|area|"
                       r"county|nation)\b", re.I)),
    (PERSON, re.compile(r"\bwho(m|se)?\b|\b(what|which) (person|people|man|woman|group|"
                        r"organi[sz]ation|company|team|king|president|leader|author)\b", re.I)),
)

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(rf"\b(1\d{{3}}|20\d{{2}})s?\b|\b({_MONTHS})\b|\b\d+(st|nd|rd|th)? century\b|"
                   r"\bcentur(y|ies)\b|\b(BC|AD|BCE|CE)\b|\b(monday|tuesday|wednesday|thursday|"
                   r"friday|saturday|sunday|today|yesterday|tomorrow)\b|\b\d{1,2}:\d{2}\b|"
                   r"\b(morning|evening|night|noon|midnight|decade|years? ago)\b", re.I)
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                 "fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
                 "fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|"
                 "million|millions|billion|billions|trillion|dozen|dozens|half|quarter|"
                 "several|few|many|percent|twice|once")
_QUANTITY = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*[a-z]\w*|\b[A-Z]{2,}\b")
_PLACE_CUE = re.compile(r"\b(in|at|near|from|to|of|across|throughout|outside|inside)\s+"
                        r"(the\s+)?[A-Z]\w+")


def expected_type(question: str) -> str | None:
    """The answer type a question asks for, or None (what/why/how questions). The question's
    own wh-word comes before one that opens a clause inside it: "Who was president when the
    wall fell?" asks for a person."""
    found = [(0 if kind == QUANTITY else m.start(), i, kind)
             for i, (kind, rule) in enumerate(_RULES) if (m := rule.search(question))]
    return min(found)[2] if found else None


def _new(tokens: list[str], question: str) -> list[str]:
    """The tokens whose stems are not words of the question."""
    qw = set(words(question))
    return [t for t in tokens if not (set(words(t)) and set(words(t)) <= qw)]


def names(text: str) -> list[str]:
    """Capitalised words other than the first word of the text (a likely sentence start)."""
    first = re.match(r"\W*(\w+)", text)
    skip = first.start(1) if first else -1
    return [m.group(0) for m in _CAPITALISED.finditer(text) if m.start() != skip]


def has_type(kind: str | None, sentence: str, question: str) -> bool:
    """Does ``sentence`` hold a candidate answer of ``kind`` that the question does not state?"""
    if kind is None:
        return False
    if kind == DATE:
        found = [m.group(0) for m in _DATE.finditer(sentence)]
    elif kind == QUANTITY:
        found = [m.group(0) for m in _QUANTITY.finditer(sentence)]
        found = [f for f in found if f not in question]
    elif kind == PLACE:
        found = [m.group(0).split()[-1] for m in _PLACE_CUE.finditer(sentence)] or names(sentence)
    else:
        found = names(sentence)
    if kind in (DATE, QUANTITY):
        return bool([f for f in found if f.lower() not in question.lower()])
    return bool(_new(found, question))
