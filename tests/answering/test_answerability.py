"""Answerability decided per answer: features (fast), the learnt model, the hook in ask()."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from rag import CANNOT_ANSWER, Settings, ask
from rag.answering.answerability import FEATURE_NAMES, Model, features, key_terms, model
from rag.evaluation.squad_rows import normalise
from rag.types import Abstention, Hit

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "crocus-city-hall-attack.txt"
PARAPHRASES = ROOT / "tests" / "data" / "paraphrase_questions.jsonl"
SHARED_PDFS = ROOT.parent / "shared" / "eval" / "pdfs"
SQUAD = ROOT.parent / "shared" / "eval" / "squad2" / "dev-v2.0.json"

#: On-topic questions the seed article does not answer (read from the article: it names no
#: attacker, no date, no rescue figures, no concert act, no sentence).
ABSENT_FROM_SEED = [
    "What were the names of the four gunmen?",
    "On what date did the attack take place?",
    "Which band was due to play at the concert that night?",
    "How many firefighters fought the blaze?",
    "How long were the attackers sentenced to in prison?",
    "Who owns the Crocus City Hall?",
]
#: Questions the seed article does answer, and a word each answer must hold (also a
#: calibration constraint: a threshold that turns one away is refused, e.g.
#: benchmarks/calibrate_checker.py).
ANSWERED_BY_SEED = [(r["question"], r["gold"]) for r in map(json.loads, (
    ROOT / "tests/data/seed_answered.jsonl").read_text(encoding="utf-8").splitlines())]


def hit(text: str, n: int = 0, dense: float = 0.6, sparse: float = 5.0) -> Hit:
    return Hit(chunk_id=n, path=f"doc{n}.txt", page=1, start=0, end=len(text), text=text,
               score=1.0, dense=dense, sparse=sparse)


def fake_vectors(texts):
    """A stand-in for the embedder (no model in the fast tier): a word's vector is one-hot on
    its hash, so only identical words are similar."""
    out = np.zeros((len(texts), 4096))
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, zlib.crc32(w.encode()) % 4096] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


# ------------------------------------------------------------------ features (fast)
def test_topic_words_shared_by_every_passage_are_not_key_terms():
    hits = [hit("The Normans ruled Normandy in 1066.", 0), hit("The Normans were Vikings.", 1),
            hit("Normans spoke French later.", 2)]
    assert key_terms("What did the Normans rule in 1100?", hits) == ["rule", "1100"]
    assert key_terms("What did the Normans rule in 1100?", hits[:2]) == ["normans", "rule", "1100"]


def test_missing_number_and_name_are_counted_against_the_cited_passage():
    hits = [hit("The Normans conquered England in 1066 under William.", 0)]
    f = features(fake_vectors, "What did Harold conquer in 1100?",
                 [("The Normans conquered England in 1066 under William.", (1,), True)], hits,
                 0.5)
    assert f.missing_numbers == 1 and f.missing_names == 1
    g = features(fake_vectors, "What did William conquer in 1066?",
                 [("The Normans conquered England in 1066 under William.", (1,), True)], hits,
                 0.5)
    assert g.missing_numbers == 0 and g.missing_names == 0
    assert g.cover_passage == 1.0 and g.worst_term == 1.0


def test_type_feature_and_retrieval_signal_of_the_cited_passage():
    hits = [hit("Unrelated opening words.", 0, dense=0.7, sparse=10.0),
            hit("The fire killed 12 people.", 1, dense=0.4, sparse=5.0)]
    f = features(fake_vectors, "How many people did the fire kill?",
                 [("The fire killed 12 people.", (2,), True)], hits, 0.6)
    assert f.type_asked == 1 and f.type_found == 1
    assert f.cited_rank == pytest.approx(0.5) and f.dense_cited == pytest.approx(0.4)
    assert f.sparse_share == pytest.approx(0.5)
    assert f.evidence == pytest.approx(0.6) and f.unsupported == 0


def test_paraphrased_key_term_counts_when_a_passage_word_is_close():
    hits = [hit("The gunmen tried to flee to Ukraine.", 0)]
    sents = [("The gunmen tried to flee to Ukraine.", (1,), True)]

    def close(texts):  # "escape" and "flee" get the same vector, as MiniLM makes them close
        return fake_vectors([t.replace("escape", "flee") for t in texts])

    literal = features(fake_vectors, "Where did the gunmen escape to?", sents, hits, 0.5)
    para = features(close, "Where did the gunmen escape to?", sents, hits, 0.5)
    assert literal.cover_passage == para.cover_passage < 1.0
    assert para.paraphrased == 1.0 > literal.paraphrased


def test_stump_model_adds_the_value_of_each_side_of_its_split():
    data = {"kind": "stumps", "features": ["evidence", "unaligned_answer"], "bias": 0.5,
            "threshold": 0.5, "stumps": [[0, 0.4, -1.0, 1.0], [1, 0.0, 0.5, -2.0]]}
    m = Model.from_json(data)
    x = np.zeros((3, len(FEATURE_NAMES)))
    ev, un = FEATURE_NAMES.index("evidence"), FEATURE_NAMES.index("unaligned_answer")
    x[0, [ev, un]] = 0.6, 0  # 0.5 + 1.0 + 0.5
    x[1, [ev, un]] = 0.6, 1  # 0.5 + 1.0 - 2.0
    x[2, [ev, un]] = 0.3, 0  # 0.5 - 1.0 + 0.5
    assert m.margin(x) == pytest.approx([2.0, -0.5, 0.0])
    assert m.probability(x)[0] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_recorded_model_matches_the_features_and_the_setting():
    recorded = json.loads((ROOT / "rag" / "answering" / "models" / "answerability.json").read_text())
    assert set(recorded["features"]) <= set(FEATURE_NAMES)
    assert Settings().answerable_threshold == pytest.approx(recorded["threshold"], abs=1e-3)
    m = model()
    assert m.kind == recorded.get("kind", "logistic")
    if m.kind == "logistic":
        assert len(m.weights) == len(recorded["features"])
    else:
        assert all(0 <= c < len(recorded["features"]) for c, *_ in m.stumps)
    # loose sanity of what was learnt: on the held-out half it turns away more unanswerable
    # than answerable questions, at the default and at the training rule's threshold
    for held in (recorded["with_answerability"]["held_out"], recorded["rule_held_out"]):
        assert held["unanswerable_abstained"] > 2 * held["answerable_abstained"]
        assert held["answerable_abstained"] <= 0.2


def test_a_model_trained_on_other_features_is_refused_with_a_reason():
    from rag.errors import DocchatError

    with pytest.raises(DocchatError, match="retrain"):
        Model.from_json({"features": ["evidence", "a_feature_since_removed"], "mean": [0, 0],
                         "scale": [1, 1], "weights": [1, 1], "bias": 0, "threshold": 0.5})


# ------------------------------------------------------------------ the hook (slow)
#: A stricter threshold than the default (docs/quality.md: held out it turns away 3.5% of
#: answerable and 15% of unanswerable SQuAD questions, and 3 of the 42 paraphrases).
STRICT = 0.345


@pytest.mark.slow
@pytest.mark.parametrize("threshold, at_least", [(None, 4), (STRICT, 4)])
def test_on_topic_questions_whose_answer_is_absent_abstain(seed_index, threshold, at_least):
    # the answerability check runs when the answer checker is off (it replaces it)
    settings = seed_index.settings.replace(answerable_threshold=threshold, checker_threshold=0.0)
    answers = {q: ask(seed_index, q, settings=settings) for q in ABSENT_FROM_SEED}
    for a in answers.values():
        assert a.answer == CANNOT_ANSWER or not a.abstained
    abstained = [q for q, a in answers.items() if a.abstained]
    # measured: 4 of 6 at both thresholds (2 by the evidence rule, "the four gunmen's names"
    # and "who owns the hall" by answerability); the expected answer type is often present
    # for another reason ("On what date...?" finds the years of earlier attacks)
    assert len(abstained) >= at_least, abstained
    assert sum(any("answerability" in n for n in a.notes) for a in answers.values()) >= 2


@pytest.mark.slow
def test_hook_abstains_below_the_threshold_and_says_why(seed_index):
    strict = seed_index.settings.replace(answerable_threshold=0.999, checker_threshold=0.0)
    a = ask(seed_index, "How many people died?", settings=strict)
    assert a.abstained and a.answer == CANNOT_ANSWER
    assert a.abstention is Abstention.DOES_NOT_FIT and a.notes[0].startswith("the answer does not fit the question")
    off = seed_index.settings.replace(answerable_threshold=0.0)
    assert not ask(seed_index, "How many people died?", settings=off).abstained


@pytest.mark.slow
@pytest.mark.parametrize("question, gold", ANSWERED_BY_SEED)
def test_seed_questions_are_still_answered(seed_index, question, gold):
    a = ask(seed_index, question)
    assert not a.abstained, a.notes
    assert gold in a.answer


def _paraphrases() -> list[dict]:
    return [json.loads(line) for line in PARAPHRASES.read_text().splitlines() if line.strip()]


def test_paraphrase_set_is_large_and_worded_apart_from_its_answers():
    from rag.lexical import words

    rows = _paraphrases()
    assert len(rows) >= 40
    for r in rows:  # the gold answer's words are not the question's words
        assert not set(words(r["gold"])) & set(words(r["question"])), r


@pytest.mark.slow
def test_paraphrased_questions_rarely_abstain(tmp_path):
    from conftest import need_shared

    from rag.index import Index

    docs = tmp_path / "docs"
    docs.mkdir()
    rows = _paraphrases()
    for name in sorted({r["file"] for r in rows}):
        src = SEED if name == SEED.name else need_shared(SHARED_PDFS / name)
        (docs / name).write_bytes(src.read_bytes())
    root = tmp_path / "index"
    idx = Index.open(root, Settings.from_env(index_dir=str(root)), create=True)
    idx.update([docs])
    answers = [(r, ask(idx, r["question"])) for r in rows]
    false_abstentions = [r["question"] for r, a in answers if a.abstained]
    on_seed = [q for q in false_abstentions if any(r["question"] == q and r["file"] == SEED.name
                                                   for r in rows)]
    assert on_seed == []
    assert len(false_abstentions) / len(rows) <= 0.05, false_abstentions
    # answered ones mostly hold the reference answer (a loose check: paraphrases are hard)
    held = sum(normalise(r["gold"]) in normalise(a.answer) for r, a in answers)
    assert held / len(rows) >= 0.7


def test_a_missing_model_file_is_one_clear_reason(tmp_path):
    from rag.errors import DocchatError

    with pytest.raises(DocchatError, match="cannot be read.*train_answerability"):
        model(tmp_path / "answerability.json")


# ------------------------------------------------------------------ real SQuAD examples (slow)
#: Held-out SQuAD 2.0 examples (odd articles: the model never saw them). Each pairs an
#: unanswerable question about a paragraph with an answerable sibling of the same paragraph
#: and its reference answer; asked against an index of that article's paragraphs.
#: Not met since the span reader (issue 18, session 6) chooses the first sentence: its draft
#: (the answering sentence of the sibling question plus a second one) passes the answerability
#: check at 0.55 (threshold 0.28), and the reader's own probability is 0.47-0.49 (threshold 0.05).
READER_SHORTFALL = ("regression with the span reader: the draft it opens passes answerability "
                    "(0.55 > 0.28); see issue 18")
SQUAD_PAIRS = [
    # (article, unanswerable question, answerable question, reference answer)
    # a negated question against a passage that states the positive (negation_mismatch)
    ("a11", "Whose ideas did not become increasingly radical during his imprisonment?",
     "Whose ideas became increasingly radical during his imprisonment?", "Qutb's"),
    # "invented in a storage reservoir": the passage never aligns "invented" / "reservoir"
    pytest.param(
        "a03", "What was invented in a storage reservoir?",
        "What was the first true engine that was commercially successful?", "atmospheric engine",
        marks=pytest.mark.xfail(strict=True, reason=READER_SHORTFALL)),
    # asks a count the passage does not give (it names the 2000 champion)
    pytest.param(
        "a13", "How many times has Ekstraklasa won the cup?",
        "Who won the Ekstraklasa Championship in 2000?", "Polonia Warsaw",
        marks=pytest.mark.xfail(strict=True, reason=READER_SHORTFALL)),
]


SQUAD_ARTICLES = ("a03", "a11", "a13")


@pytest.fixture(scope="module")
def squad_article_indexes(tmp_path_factory):
    from conftest import need_shared

    from rag.evaluation.runs import load_squad
    from rag.index import Index

    paragraphs, _ = load_squad(need_shared(SQUAD))
    out = {}
    for article in SQUAD_ARTICLES:
        root = tmp_path_factory.mktemp(article)
        docs = root / "docs"
        docs.mkdir()
        for pid, text in paragraphs.items():
            if pid.startswith(article + "_"):
                (docs / f"{pid}.txt").write_text(text, encoding="utf-8")
        idx = Index.open(root / "index", Settings.from_env(index_dir=str(root / "index")),
                         create=True)
        idx.update([docs])
        out[article] = idx
    return out


@pytest.mark.slow
@pytest.mark.parametrize("article, unanswerable, answerable, gold", SQUAD_PAIRS)
def test_unanswerable_squad_question_abstains_and_its_sibling_is_answered(
        squad_article_indexes, article, unanswerable, answerable, gold):
    idx = squad_article_indexes[article]
    off = idx.settings.replace(checker_threshold=0.0)  # the answerability check's own test
    no = ask(idx, unanswerable, settings=off)
    assert no.abstained and no.answer == CANNOT_ANSWER, no.answer
    assert no.abstention is Abstention.DOES_NOT_FIT, no.notes
    yes = ask(idx, answerable, settings=off)
    assert not yes.abstained, yes.notes
    assert normalise(gold) in normalise(yes.answer)
