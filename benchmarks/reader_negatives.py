"""Unanswerable questions made from answerable ones, in the ways SQuAD 2.0's crowd wrote
theirs (Rajpurkar et al. 2018, table 3: negation, antonym, entity swap, number swap, mutual
exclusion make up about 70% of them). Each keeps the question on its own paragraph, so it
reads like an answerable question about that text, but changes what it asks so that the
paragraph no longer answers it:

- **number**: a year, number or ordinal of the question that the paragraph holds is replaced
  by one the paragraph does not hold ("in 1973" -> "in 1968"; "third" -> "fifth");
- **entity**: a capitalised name of the question that the paragraph holds is replaced by a
  name from another paragraph of the same article that this paragraph never mentions;
- **antonym**: a comparative or directional word is swapped for its opposite
  (largest -> smallest, before -> after, increase -> decrease);
- **negation**: the question's first auxiliary verb contracted with "not" ("When did Kublai
  ban ..." -> "When didn't Kublai ban ...", as SQuAD 2.0's crowd wrote them).

Labels are noisy (a negated question can still be answered), which the training tolerates;
the real unanswerables keep it anchored. Deterministic for a given random.Random."""
from __future__ import annotations

import random
import re

ANTONYMS = {
    "largest": "smallest", "biggest": "smallest", "highest": "lowest", "most": "least",
    "first": "last", "earliest": "latest", "oldest": "newest", "longest": "shortest",
    "before": "after", "increase": "decrease", "increased": "decreased", "rise": "fall",
    "north": "south", "east": "west", "maximum": "minimum", "best": "worst", "won": "lost",
    "win": "lose", "major": "minor", "more": "fewer", "strongest": "weakest",
    "allowed": "forbade", "began": "ended", "start": "end", "started": "ended",
    "inside": "outside", "upper": "lower", "private": "public", "rich": "poor",
    "larger": "smaller", "higher": "lower", "early": "late", "accepted": "rejected",
    "supported": "opposed", "gained": "lost", "agreed": "refused", "popular": "unpopular",
}
ANTONYMS.update({v: k for k, v in list(ANTONYMS.items()) if v not in ANTONYMS})
#: How often each kind is chosen when several apply (negation applies to nearly every question).
WEIGHTS = {"number": 3, "entity": 3, "antonym": 2, "negation": 1}
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth"]
NEGATED = {"did": "didn't", "does": "doesn't", "do": "don't", "was": "wasn't",
           "were": "weren't", "is": "isn't", "are": "aren't", "has": "hasn't",
           "have": "haven't", "had": "hadn't", "can": "can't", "could": "couldn't",
           "would": "wouldn't", "will": "won't", "should": "shouldn't"}
AUX = re.compile(r"\b(" + "|".join(NEGATED) + r")\b(?!\s+(?:not|never)\b)", re.I)
NUMBER = re.compile(r"\b\d{1,4}(?:,\d{3})*(?:st|nd|rd|th)?\b")
NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*\b")
STOP = {"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "The", "In",
        "On", "At", "For", "Did", "Does", "Was", "Were", "Is", "Are", "Has", "Have", "Had",
        "Can", "Could", "Would", "Will", "According", "After", "Before", "During", "From",
        "Along", "Besides", "Other", "Than", "Name", "Along", "Since", "Some", "Many", "This"}


def _number(q: str, c: str, rnd: random.Random) -> str | None:
    hits = [m for m in NUMBER.finditer(q) if m.group(0) in c]
    if hits:
        m = rnd.choice(hits)
        digits = re.sub(r"\D", "", m.group(0).rstrip("stndrh"))
        n = int(digits) if digits else 0
        for _ in range(10):
            k = n + rnd.choice([-1, 1]) * rnd.randint(1, 12) if n > 1000 or n < 30 \
                else int(n * rnd.choice([0.5, 2, 3, 1.5])) + rnd.randint(1, 9)
            new = str(max(k, 1))
            if new not in c:
                return q[:m.start()] + new + q[m.end():]
        return None
    words = [w for w in ORDINALS if re.search(rf"\b{w}\b", q, re.I) and w in c.lower()]
    if words:
        w = rnd.choice(words)
        new = rnd.choice([o for o in ORDINALS if o != w and o not in c.lower()] or [None])
        if new:
            return re.sub(rf"\b{w}\b", new, q, count=1, flags=re.I)
    return None


def _names(text: str):
    """Capitalised names inside sentences (not a sentence's first word), without stop words."""
    for m in NAME.finditer(text):
        before = text[max(0, m.start() - 2):m.start()]
        if m.start() > 0 and not re.search(r"[.!?\"]\s?$", before) and \
                m.group(0).split()[0] not in STOP:
            yield m


def _entity(q: str, c: str, others: list[str], rnd: random.Random) -> str | None:
    hits = [m for m in _names(q) if m.group(0) in c]
    if not hits or not others:
        return None
    m = rnd.choice(hits)
    pool = {n.group(0) for o in others for n in _names(o)
            if n.group(0) not in c and n.group(0) not in q
            and len(n.group(0).split()) == len(m.group(0).split())}
    if not pool:
        return None
    return q[:m.start()] + rnd.choice(sorted(pool)) + q[m.end():]


def _antonym(q: str, c: str, rnd: random.Random) -> str | None:
    words = [w for w in re.findall(r"[a-z]+", q) if w in ANTONYMS and ANTONYMS[w] not in q]
    if not words:
        return None
    w = rnd.choice(words)
    return re.sub(rf"\b{w}\b", ANTONYMS[w], q, count=1)


def _negation(q: str, rnd: random.Random) -> str | None:
    m = AUX.search(q)
    if not m or len(q.split()) < 4:
        return None
    word = NEGATED[m.group(1).lower()]
    if m.group(1)[0].isupper():
        word = word[0].upper() + word[1:]
    return q[:m.start()] + word + q[m.end():]


def perturb(q: str, c: str, golds: list[str], others: list[str],
            rnd: random.Random) -> tuple[str, str] | None:
    """(kind, question) of one perturbation that applies to the question, or None."""
    made = {"number": _number(q, c, rnd), "entity": _entity(q, c, others, rnd),
            "antonym": _antonym(q, c, rnd), "negation": _negation(q, rnd)}
    kinds = [k for k, new in made.items() if new and new != q]
    if not kinds:
        return None
    kind = rnd.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
    return kind, made[kind]
