"""The support checker (rag.answering.entailment): an LLM's own wording is supported only when
its passage says it."""
from __future__ import annotations

import json

import pytest

from rag import Settings
from rag.answering import entailment
from rag.answering.citations import support, verify
from rag.answering.evidence import build_evidence
from rag.types import Hit

PASSAGE = ("The Moscow concert hall attack killed 145 people and injured more than 500. "
           "Gunmen opened fire on the audience before setting the building on fire. "
           "The Islamic State claimed responsibility for the attack within hours.")
SAYS = ["Within hours, responsibility for the attack was claimed by the Islamic State.",
        "The attack injured over 500 people."]
# what the cosine + overlap rule accepted (0.72-0.79 >= 0.65): a swapped name, a denial
DOES_NOT_SAY = ["Within hours, responsibility for the attack was claimed by the Russian "
                "government.", "Ukraine claimed responsibility for the attack within hours.",
                "The Islamic State denied responsibility for the attack."]


def test_recorded_model_is_small_and_beat_the_rule_on_held_out_pairs():
    info = json.loads(entailment.META.read_text(encoding="utf-8"))
    assert entailment.WEIGHTS.stat().st_size < 3 * 2**20
    assert Settings().entailment_threshold == pytest.approx(info["threshold"])
    held = info["held_out"]  # the 4,978 *_val.tsv pairs: never trained or calibrated on
    model, rule = held["vetoes_then_model"], held["rule"]
    assert model["not_entailed_accepted"] < rule["not_entailed_accepted"] / 2
    assert model["entailed_accepted"] > 0.6


def test_the_support_checker_is_off_at_0_and_with_a_remote_embedding_server():
    assert entailment.enabled(Settings()) and entailment.scorer(Settings()) is not None
    assert entailment.scorer(Settings(entailment_threshold=0.0)) is None
    assert not entailment.enabled(Settings(embed_url="http://127.0.0.1:8080/v1"))


@pytest.fixture(scope="module")
def embedder():
    from rag.embedding.local import embedder_for

    return embedder_for(Settings.from_env())


def supported(embedder, claim: str, entail) -> bool:
    hit = Hit(1, "hall.txt", 1, 0, len(PASSAGE), PASSAGE, 1.0)
    ev = build_evidence(embedder, claim, [hit])
    return verify(ev, f"{claim} [1]", Settings().support_threshold, entail)[0].supported


@pytest.mark.slow
def test_claims_the_passage_does_not_make_are_unsupported_where_the_rule_took_them(embedder):
    entail = entailment.scorer(Settings.from_env())
    for claim in SAYS:
        assert supported(embedder, claim, entail), claim
    for claim in DOES_NOT_SAY:
        assert supported(embedder, claim, None), claim  # the rule alone was fooled
        assert not supported(embedder, claim, entail), claim


@pytest.mark.slow
def test_vetoes_still_hold_and_verbatim_sentences_never_reach_the_model(embedder):
    calls = []

    def entail(claim, premises):  # counts, and would accept anything
        calls.append(claim)
        return [0.99] * len(premises)

    changed = "The Moscow concert hall attack killed 150 people."
    assert not supported(embedder, changed, entail)  # a number the passage does not have
    assert supported(embedder, "Gunmen opened fire on the audience before setting the "
                     "building on fire.", entail)  # verbatim
    assert calls == []
    hit = Hit(1, "hall.txt", 1, 0, len(PASSAGE), PASSAGE, 1.0)
    claim = SAYS[0]
    score, sentence = support(build_evidence(embedder, claim, [hit]), claim, entail)[0]
    assert calls == [claim] and score == 0.99 and "Islamic State" in sentence.text


@pytest.mark.slow
def test_a_claim_longer_than_the_model_reads_is_left_to_the_rule(embedder):
    """The model reads 64 tokens of the claim; past that it would judge only the start, so
    the rule decides (a swapped name at the end must not pass on the model's word)."""
    entail = entailment.scorer(Settings.from_env())
    long = ("Within hours of the attack on the Moscow concert hall in the evening, which "
            "killed 145 people and injured more than 500 others after a group of armed gunmen "
            "opened fire on the waiting audience in the main auditorium and then set the "
            "whole building on fire before fleeing the scene in a car, responsibility for the "
            "attack was claimed by the Islamic State group.")
    assert entail(long, [PASSAGE]) is None
    hit = Hit(1, "hall.txt", 1, 0, len(PASSAGE), PASSAGE, 1.0)
    ev = build_evidence(embedder, long, [hit])
    assert support(ev, long, entail) == support(ev, long, None)


@pytest.mark.slow
def test_the_highlight_covers_the_two_sentences_that_support_a_merged_claim(embedder):
    hit = Hit(1, "hall.txt", 1, 0, len(PASSAGE), PASSAGE, 1.0)
    claim = "Gunmen set the hall on fire, and the Islamic State soon claimed the attack."
    entail = entailment.scorer(Settings.from_env())
    score, sentence = support(build_evidence(embedder, claim, [hit]), claim, entail)[0]
    # whichever premise scored best is the span shown: a whole sentence or two in a row
    assert PASSAGE[sentence.start:sentence.end].split() == sentence.text.split()
