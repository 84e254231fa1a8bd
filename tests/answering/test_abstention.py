"""Abstention is decided by evidence, calibrated on data (docs/calibration.json)."""
from __future__ import annotations

import json

import pytest
from conftest import ROOT, SHARED_EVAL, need_shared

from rag import Settings, ask
from rag.evaluation.runs import eval_index, load_squad, sample
from rag.index import Index

pytestmark = pytest.mark.slow
SQUAD = SHARED_EVAL / "squad2" / "dev-v2.0.json"


def offtopic_questions() -> list[str]:
    lines = (ROOT / "tests/data/offtopic_questions.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> Index:
    root = tmp_path_factory.mktemp("seed") / "index"
    idx = Index.open(root, Settings.from_env(index_dir=str(root)), create=True)
    idx.update([ROOT / "seeds"])
    return idx


def test_threshold_in_settings_is_the_calibrated_one():
    recorded = json.loads((ROOT / "docs/calibration.json").read_text())
    assert Settings().abstain_threshold == pytest.approx(recorded["threshold"], abs=1e-3)


def test_off_topic_questions_abstain_at_least_95_percent(seed_index):
    questions = offtopic_questions()
    abstained = [ask(seed_index, q).abstained for q in questions]
    assert sum(abstained) / len(questions) >= 0.95, \
        [q for q, a in zip(questions, abstained) if not a]


def test_questions_from_other_subjects_abstain_against_the_seed(seed_index):
    _, questions = load_squad(need_shared(SQUAD))
    picked = [q["question"] for q in sample(questions, 150, seed=2024)]
    rate = sum(ask(seed_index, q).abstained for q in picked) / len(picked)
    assert rate >= 0.95


def test_answerable_squad_questions_abstain_at_most_10_percent(tmp_path_factory):
    paragraphs, questions = load_squad(need_shared(SQUAD))
    idx, _ = eval_index("squad2", paragraphs.items(), Settings.from_env())
    answerable = [q for q in questions if not q["impossible"]]
    picked = sample(answerable, 150, seed=2024)
    answers = [ask(idx, q["question"]) for q in picked]
    assert sum(a.abstained for a in answers) / len(picked) <= 0.10
    # and the answers really answer: most contain a reference answer
    from rag.evaluation.squad_rows import normalise
    contains = sum(any(normalise(g) in normalise(a.answer) for g in q["answers"])
                   for q, a in zip(picked, answers))
    assert contains / len(picked) >= 0.7
