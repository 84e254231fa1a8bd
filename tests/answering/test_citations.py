"""Citation verification: wrong citations are removed, unsupported sentences are flagged."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.citations import number_sources, parse_draft, render_markers, verify
from rag.types import Hit

ATTACK = ("A terror attack at the Crocus City concert hall in Moscow killed 133 people. "
          "The four gunmen were captured while trying to flee.")
WEATHER = ("The weather in Moscow in March is cold. Snow usually covers the ground until April.")


def hit(n: int, text: str) -> Hit:
    return Hit(chunk_id=n, path=f"/docs/doc{n}.txt", page=1, start=100 * n,
               end=100 * n + len(text), text=text, score=1.0 / n)


HITS = [hit(1, ATTACK), hit(2, WEATHER)]


def test_markers_after_a_full_stop_belong_to_the_sentence_before():
    parsed = parse_draft("First claim here. [2] Second claim [1, 3]. Third [4][1].")
    assert [p.cited for p in parsed] == [(2,), (1, 3), (4, 1)]
    assert parsed[1].text == "Second claim."


def test_sentence_without_any_words_is_not_an_answer_sentence():
    assert [p.text for p in parse_draft("Yes it is [1]. [2]")] == ["Yes it is."]


@pytest.fixture(scope="module")
def embedder():
    from rag.embedding.local import Embedder

    return Embedder.shared("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def cache(embedder):
    """The evidence of a question over ATTACK [1] and WEATHER [2]."""
    from rag.answering.evidence import build_evidence

    return build_evidence(embedder, "What happened in Moscow?", HITS)


@pytest.mark.slow
def test_citation_to_a_passage_that_does_not_support_is_moved_to_one_that_does(cache):
    [v] = verify(cache, "The attack killed 133 people. [2]", 0.65)
    assert v.cited == (1,)
    assert v.supported


@pytest.mark.slow
def test_sentence_with_a_number_no_passage_states_is_unsupported(cache):
    [v] = verify(cache, "The attack killed 250 people. [1]", 0.65)
    assert not v.supported and v.cited == ()


@pytest.mark.slow
def test_quoted_words_must_appear_verbatim(cache):
    [v] = verify(cache, 'The gunmen were "arrested at the airport". [1]', 0.65)
    assert not v.supported


@pytest.mark.slow
def test_invented_sentence_is_flagged_while_true_ones_keep_their_citation(cache):
    out = verify(cache, "The four gunmen were captured while trying to flee. [1] "
                        "The mayor resigned the next day and moved to Paris. [1]", 0.65)
    assert [v.supported for v in out] == [True, False]


@pytest.mark.slow
def test_uncited_but_supported_sentence_gets_its_citation(cache):
    [v] = verify(cache, "Snow usually covers the ground until April.", 0.65)
    assert v.cited == (2,)


@pytest.mark.slow
def test_highlight_is_the_page_span_of_the_supporting_sentence(cache):
    [v] = verify(cache, "The attack killed 133 people. [1]", 0.65)
    (n, (a, b)), = v.spans
    h = HITS[n - 1]
    assert h.text[a - h.start:b - h.start] == (
        "A terror attack at the Crocus City concert hall in Moscow killed 133 people.")


def test_sources_are_renumbered_by_first_citation():
    from rag.answering.citations import Verified

    verified = [Verified("B.", (2,), True, ((2, (200, 210)),)),
                Verified("A.", (1, 2), True, ((1, (100, 110)), (2, (200, 210))))]
    sentences, sources = number_sources(verified, HITS)
    assert [s.citations for s in sentences] == [(1,), (2, 1)]
    assert [Path(s.path).name for s in sources] == ["doc2.txt", "doc1.txt"]
    assert render_markers(sentences) == "B. [1] A. [2][1]"


# -- a sentence never spans a citation marker --------------------------------------------------

@pytest.mark.parametrize("draft, expected", [
    ("A [1] B [2]", [("A", (1,)), ("B", (2,))]),
    ("Snow White and the Huntsman [1] Conquistador Spain then had control. [2]",
     [("Snow White and the Huntsman", (1,)), ("Conquistador Spain then had control.", (2,))]),
    ("one claim, [1] and another claim [2].", [("one claim,", (1,)), ("and another claim.", (2,))]),
    ("Two sentences here. Only the second is cited [3]",
     [("Two sentences here.", ()), ("Only the second is cited", (3,))]),
])
def test_text_before_a_marker_is_a_sentence_of_its_own(draft, expected):
    assert [(d.text, d.cited) for d in parse_draft(draft)] == expected


def test_bracketed_numbers_beyond_the_passages_are_text_not_markers():
    [d] = parse_draft("The survey [12] found it. [1]", passages=5)
    assert (d.text, d.cited) == ("The survey [12] found it.", (1,))


def test_last_sentence_cut_off_by_the_generation_is_not_an_answer_sentence():
    from rag.answering.citations import draft_sentences

    got = draft_sentences("Pim is a moon [1]. Pim is bright green [1]. The moon of Zor", 2)
    assert [d.text for d in got] == ["Pim is a moon.", "Pim is bright green."]
    # a finished last sentence without a marker stays (verification may still cite it)
    assert len(draft_sentences("Pim is a moon [1]. It is green.", 2)) == 2


def test_repeated_and_near_repeated_draft_sentences_are_dropped():
    from rag.answering.citations import draft_sentences

    draft = ("The moon Pim is bright green [1]. The moon Pim is bright green [1]. "
             "The moon Pim is very bright green [1]. Zorblax orbits a red dwarf [2].")
    assert [d.text for d in draft_sentences(draft, 2)] == [
        "The moon Pim is bright green.", "Zorblax orbits a red dwarf."]


# -- adversarial drafts: one passage must hold the whole sentence --------------------------------

FILM = ("Snow White and the Huntsman\n\nSnow White and the Huntsman is a 2012 American fantasy "
        "film directed by Rupert Sanders. It stars Kristen Stewart as Snow White.")
SPAIN = ("The Spanish conquest of the Aztec Empire began in 1519. Conquistador Spain then had "
         "control over much of Mesoamerica, and the city of Tenochtitlan was rebuilt.")


@pytest.fixture(scope="module")
def two_files(embedder):
    from rag.answering.evidence import build_evidence

    a = Hit(chunk_id=1, path="/docs/film.txt", page=1, start=0, end=len(FILM), text=FILM,
            score=1.0, structure=((0, 27, 0),))
    b = Hit(chunk_id=2, path="/docs/spain.txt", page=1, start=0, end=len(SPAIN), text=SPAIN,
            score=0.9)
    return build_evidence(embedder, "Who had control over Mesoamerica?", [a, b])


@pytest.mark.slow
def test_title_of_one_file_glued_to_a_sentence_of_another_is_unsupported(two_files):
    [v] = verify(two_files, "Snow White and the Huntsman Conquistador Spain then had control "
                            "over much of Mesoamerica. [2]", 0.65)
    assert not v.supported and v.cited == ()


@pytest.mark.slow
def test_sentence_half_from_one_passage_half_from_another_is_unsupported(cache):
    [v] = verify(cache, "The attack at the Crocus City concert hall killed 133 people and snow "
                        "usually covers the ground until April. [1]", 0.65)
    assert not v.supported


@pytest.mark.slow
def test_the_same_claims_split_at_their_markers_are_each_supported(cache):
    out = verify(cache, "The attack at the Crocus City concert hall killed 133 people [1] "
                        "snow usually covers the ground until April [2]", 0.65)
    assert [(v.supported, v.cited) for v in out] == [(True, (1,)), (True, (2,))]


@pytest.mark.slow
def test_a_changed_number_is_unsupported(cache):
    [v] = verify(cache, "A terror attack at the Crocus City concert hall in Moscow killed 134 "
                        "people. [1]", 0.65)
    assert not v.supported


@pytest.mark.slow
def test_an_added_negation_is_unsupported(cache):
    [v] = verify(cache, "The four gunmen were not captured while trying to flee. [1]", 0.65)
    assert not v.supported
    [w] = verify(cache, "The four gunmen were never captured. [1]", 0.65)
    assert not w.supported


@pytest.mark.slow
def test_a_title_line_is_never_a_citation_span(two_files):
    [v] = verify(two_files, "Snow White and the Huntsman is a 2012 American fantasy film "
                            "directed by Rupert Sanders. [1]", 0.65)
    assert v.supported
    (n, (a, b)), = v.spans
    assert a >= 27 and FILM[a:b].startswith("Snow White and the Huntsman is a 2012")


def passage_texts():
    """Every sentence of every SQuAD paragraph and of the real PDFs, as the engines see them."""
    from conftest import SHARED_EVAL, need_shared

    from rag.evaluation.runs import load_squad
    from rag.answering.evidence import passage_sentences
    from rag.ingest.loaders import load

    paragraphs, _ = load_squad(need_shared(SHARED_EVAL / "squad2" / "dev-v2.0.json"))
    texts = [[s.text for s in passage_sentences([hit(1, t)])] for t in paragraphs.values()]
    for pdf in sorted(need_shared(SHARED_EVAL / "pdfs").glob("*.pdf")):
        for p in load(pdf):
            h = Hit(chunk_id=1, path=str(pdf), page=p.page, start=0, end=len(p.text),
                    text=p.text, score=1.0, structure=p.structure)
            texts.append([s.text for s in passage_sentences([h]) if not s.structural])
    return texts


def test_every_passage_sentence_comes_back_whole_from_a_cited_draft():
    """The extractive guarantee's parsing half: quoting passage sentences with their markers
    and parsing the draft gives back exactly those sentences and citations."""
    from rag.answering.citations import DraftSentence, draft_sentences, drop_repeats

    pairs = 0
    for sentences in passage_texts():
        for a, b in zip(sentences, sentences[1:]):
            got = [(d.text, d.cited) for d in draft_sentences(f"{a} [1] {b} [2]", 5, [a, b])]
            repeat = len(drop_repeats([DraftSentence(a, ()), DraftSentence(b, ())])) == 1
            assert got == [(a, (1,))] + ([] if repeat else [(b, (2,))])
            pairs += not repeat
    assert pairs > 4000
