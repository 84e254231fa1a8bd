"""The evaluation runs (rag/evaluation/runs.py): retrieval metrics are computed right, BEIR and
SQuAD files are read as published, the runs index their corpus once, ask what they are told to
and report every figure; and (slow, on ../shared/eval) the hybrid retriever clears the quality
bar. The first tests were tests/evaluation/test_evaluation.py, moved unchanged."""
from __future__ import annotations

import json
import math

import pytest
from conftest import SHARED_EVAL, need_shared
from fakes import HashEmbedder

from rag import Settings
from rag.evaluation import runs
from rag.evaluation.runs import absent_cases, load_squad, ndcg_at, recall_at, run_beir, run_squad
from rag.types import Abstention, Answer, Fusion, Hit

def test_ndcg_rewards_relevant_documents_ranked_early():
    rel = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], rel, 10) == pytest.approx(1.0)
    assert ndcg_at(["c", "a", "b"], rel, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["c", "d"], rel, 10) == 0.0


def test_recall_counts_relevant_documents_within_the_cutoff():
    assert recall_at(["x", "a", "y", "b"], {"a": 1, "b": 1}, 2) == 0.5
    assert recall_at(["x", "a", "y", "b"], {"a": 1, "b": 1}, 100) == 1.0


@pytest.mark.slow
def test_scifact_hybrid_retrieval_end_to_end_on_a_subset():
    """The real pipeline (files, index, hybrid search) on 100 SciFact test queries over their
    relevant abstracts plus 1,000 others: a fifth of the corpus, so `make test` embeds ~2,500
    chunks instead of ~12,000. The full-corpus figure (0.734, vs published MiniLM 0.645 and
    BM25 0.687) is `make eval`'s, in docs/quality.md. On this subset hybrid measured nDCG@10
    0.833 / recall@100 0.99; dense only 0.784 / 0.98 and BM25 only 0.713 / 0.92 (so a broken
    fusion fails the bounds below)."""
    r = run_beir(need_shared(SHARED_EVAL / "beir_scifact"), Settings.from_env(), limit=100,
                 distractors=1000)
    assert r["queries"] == 100 and r["documents"] > 1000
    assert r["ndcg@10"] >= 0.80, r
    assert r["recall@100"] >= 0.97, r


@pytest.mark.slow
def test_squad_eval_reports_every_figure_in_range():
    squad = need_shared(SHARED_EVAL / "squad2" / "dev-v2.0.json")
    r = run_squad(squad, Settings.from_env(), limit=60)
    for key in ("hit@1", "hit@5", "answer_contains_gold", "abstention_recall",
                "citation_precision", "median_seconds"):
        assert r[key] is not None and r[key] >= 0, key
    assert r["questions"] == 60
    assert r["hit@5"] >= r["hit@1"] >= 0.5
    assert r["citation_precision"] >= 0.9


def _squad(tmp_path, paragraphs):
    """A SQuAD 2.0 file of one article; ``paragraphs``: (context, [(question, answer or None)])."""
    data = {"data": [{"title": "T", "paragraphs": [
        {"context": c, "qas": [{"id": f"{i}-{j}", "question": q, "is_impossible": a is None,
                                "answers": [] if a is None else [{"text": a}]}
                               for j, (q, a) in enumerate(qas)]}
        for i, (c, qas) in enumerate(paragraphs)]}]}
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    return load_squad(f)


def test_absent_cases_remove_every_sentence_holding_the_answer(tmp_path):
    paragraphs, questions = _squad(tmp_path, [
        ("The bridge opened in 1932. It was built by Dorman Long. The 1932 ceremony was "
         "grand. Traffic grew quickly.",
         [("Who built the bridge?", "Dorman Long"), ("When did it open?", "1932")]),
        ("Ferries crossed the harbour before. Dorman Long also built ships. They were slow.",
         [("What crossed the harbour?", "Ferries"), ("What was never built?", None)]),
    ])
    cases = absent_cases(paragraphs, questions)
    got = {q["question"]: rest for q, rest in cases}
    # "Dorman Long" is also in the second paragraph: the answer would not be absent
    assert "Who built the bridge?" not in got
    # one question per paragraph; both sentences with "1932" are gone, the rest is kept as is
    assert got["When did it open?"] == "It was built by Dorman Long. Traffic grew quickly."
    assert got["What crossed the harbour?"] == "Dorman Long also built ships. They were slow."
    assert all(not q["impossible"] for q, _ in cases)


def test_absent_cases_need_the_paragraph_to_stay_on_topic(tmp_path):
    paragraphs, questions = _squad(tmp_path, [
        ("The bridge opened in 1932. Traffic grew.", [("When did it open?", "1932")])])
    assert absent_cases(paragraphs, questions) == []  # one sentence would be left


# ---------------------------------------------------------------- added with the mirrored file
# The runs below index hand-made corpora in tmp_path (EVAL_HOME moved there) with the text-hash
# embedder of tests/fakes.py instead of the model (runs.eval_index builds its Index from the
# settings alone, so the model's factory is replaced); the SQuAD runs' ask() is replaced by a
# recorder: what is tested is which questions are asked and what is reported, not the answers.


@pytest.fixture
def home(tmp_path, monkeypatch):
    """EVAL_HOME in tmp_path and the hash embedder in place of the model."""
    import rag.embedding.local as local

    monkeypatch.setattr(runs, "EVAL_HOME", tmp_path / "eval-home")
    monkeypatch.setattr(local, "embedder_for", lambda settings: HashEmbedder())
    return tmp_path / "eval-home"


def beir(folder, corpus, queries, qrels, split="test", header="query-id\tcorpus-id\tscore"):
    """A BEIR folder: corpus {id: (title, text)}, queries {id: text}, qrels [(q, d, score)]."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d, "title": t, "text": x}) + "\n" for d, (t, x) in corpus.items()),
        encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": q, "text": x}) + "\n" for q, x in queries.items()), encoding="utf-8")
    (folder / "qrels" / f"{split}.tsv").write_text(
        header + "\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels), encoding="utf-8")
    return folder


CORPUS = {"d1": ("Bread", "Yeast makes bread dough rise while it proofs."),
          "d2": ("Tides", "The moon's gravity pulls the oceans into tides."),
          "d3": ("Volcano", "Magma erupts from the volcano's crater as lava."),
          "d4": ("", "Penguins huddle together against the Antarctic wind."),
          "d5": ("Glaciers", "Glaciers carve valleys as they slide downhill.")}
QUERIES = {"q1": "What makes bread dough rise?", "q2": "What pulls the oceans into tides?",
           "q3": "Where does lava erupt from?", "q9": "A query without judgements"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 2), ("q3", "d3", 1), ("q3", "d5", 0)]


def test_load_beir_joins_title_and_text_and_keeps_only_positive_judgements(tmp_path):
    folder = beir(tmp_path / "b", {**CORPUS, "d6": ("Only a title", "")}, QUERIES,
                  QRELS + [("q1", "d4", 0)])
    corpus, queries, qrels = runs.load_beir(folder, "test")
    assert corpus["d1"] == "Bread Yeast makes bread dough rise while it proofs."
    assert corpus["d4"] == "Penguins huddle together against the Antarctic wind."  # no title
    assert corpus["d6"] == "Only a title"
    assert queries == QUERIES
    assert qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}, "q3": {"d3": 1}}  # header, 0s dropped


def test_load_beir_reads_the_split_asked_for_and_windows_line_ends(tmp_path):
    folder = beir(tmp_path / "b", CORPUS, QUERIES, QRELS, split="train")
    text = (folder / "qrels" / "train.tsv").read_text(encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_bytes(text.replace("\n", "\r\n").encode())
    assert runs.load_beir(folder, "train")[2] == {"q1": {"d1": 1}, "q2": {"d2": 2},
                                                   "q3": {"d3": 1}}
    with pytest.raises(FileNotFoundError, match="test.tsv"):
        runs.load_beir(folder, "test")


def test_load_beir_reads_past_blank_lines(tmp_path):
    """A hand-made or concatenated JSON-lines file often ends with an empty line."""
    folder = beir(tmp_path / "b", CORPUS, QUERIES, QRELS)
    for name in ("corpus.jsonl", "queries.jsonl"):
        f = folder / name
        f.write_text(f.read_text(encoding="utf-8") + "\n  \n", encoding="utf-8")
    corpus, queries, _ = runs.load_beir(folder, "test")
    assert set(corpus) == set(CORPUS) and queries == QUERIES


def test_ndcg_and_recall_edges():
    assert runs.ndcg_at([], {"a": 1}, 10) == 0.0
    assert runs.ndcg_at(["a"], {}, 10) == 0.0  # no judgement: 0, not a division by zero
    assert runs.recall_at(["a"], {}, 10) == 0.0
    # graded: the more relevant document first is the ideal order
    assert runs.ndcg_at(["b", "a"], {"a": 1, "b": 2}, 10) == pytest.approx(1.0)
    assert runs.ndcg_at(["a", "b"], {"a": 1, "b": 2}, 10) < 1.0
    assert runs.ndcg_at(["x", "a"], {"a": 1}, 1) == 0.0  # beyond the cut-off
    for ranked in (["a", "b", "c"], ["c", "b", "a"], ["z"]):
        assert 0.0 <= runs.ndcg_at(ranked, {"a": 3, "c": 1}, 10) <= 1.0


class _Idx:
    def __init__(self, paths):
        self.paths, self.asked = paths, []

    def search(self, query, k, fusion):
        self.asked.append((query, k, fusion))
        return [Hit(i, p, 1, 0, 1, "t", 1.0 - i / 100) for i, p in enumerate(self.paths)]


def test_doc_ranking_ranks_each_document_once_by_its_best_chunk():
    idx = _Idx(["/e/docs/d2.txt", "/e/docs/d1.txt", "/e/docs/d2.txt", "/e/docs/d3.txt",
                "/e/docs/d1.txt", "/e/docs/d4.txt"])
    assert runs.doc_ranking(idx, "q", 3, Fusion.RRF) == ["d2", "d1", "d3"]
    assert idx.asked == [("q", 9, Fusion.RRF)]  # enough chunks for n documents
    assert runs.doc_ranking(_Idx([]), "q", 3, Fusion.CONVEX) == []


def test_run_beir_reports_each_figure_and_a_second_run_embeds_nothing(home, tmp_path):
    folder = beir(tmp_path / "toy", CORPUS, QUERIES, QRELS)
    r = runs.run_beir(folder, Settings())
    assert (r["dataset"], r["split"], r["queries"], r["documents"]) == ("toy", "test", 3, 5)
    assert r["fusion"] == "convex"
    for key in ("ndcg@10", "recall@100"):
        assert 0.0 <= r[key] <= 1.0
    assert r["recall@100"] == 1.0  # 5 documents: every relevant one is within 100
    assert r["chunks"] >= 5 and r["embedded_this_run"] == r["chunks"]
    assert (home / "toy" / "docs" / "d1.txt").read_text(encoding="utf-8") == \
        "Bread Yeast makes bread dough rise while it proofs."
    again = runs.run_beir(folder, Settings())
    assert again["embedded_this_run"] == 0 and again["ndcg@10"] == r["ndcg@10"]
    json.dumps(r)  # what `docchat eval --json` prints


def test_run_beir_limit_and_distractors_cut_the_queries_and_the_corpus(home, tmp_path):
    folder = beir(tmp_path / "toy", CORPUS, QUERIES, QRELS)
    r = runs.run_beir(folder, Settings(), limit=2, distractors=1, fusion=Fusion.RRF)
    # q1, q2 (sorted ids); their documents d1, d2 plus the first other one, d3
    assert (r["queries"], r["documents"], r["dataset"]) == (2, 3, "toy-2q-1d")
    assert r["fusion"] == "rrf"
    assert sorted(p.name for p in (home / "toy-2q-1d" / "docs").iterdir()) == \
        ["d1.txt", "d2.txt", "d3.txt"]


def test_run_beir_ranks_documents_by_their_own_ids_whatever_characters_they_hold(home,
                                                                                tmp_path):
    """BEIR ids are not all file-name safe (FEVER's are Wikipedia titles: 'Paris_(film)',
    DBpedia's '<dbpedia:Paris>'): a document must still be matched to its judgements, and two
    ids that differ only in such characters must stay two documents."""
    corpus = {"Paris_(film)": ("", "A film about croissants and the Seine at dawn."),
              "Paris_[film]": ("", "Glaciers carve valleys as they slide downhill."),
              "<dbpedia:Tide>": ("", "The moon's gravity pulls the oceans into tides.")}
    queries = {"q1": "croissants Seine dawn film", "q2": "moon gravity oceans tides"}
    folder = beir(tmp_path / "fever", corpus, queries,
                  [("q1", "Paris_(film)", 1), ("q2", "<dbpedia:Tide>", 1)])
    r = runs.run_beir(folder, Settings())
    assert r["documents"] == 3 and r["recall@100"] == 1.0
    assert len(list((home / "fever" / "docs").iterdir())) == 3


def test_an_evaluation_index_holds_exactly_the_corpus_of_this_run(home):
    """Runs of one name share their folder ('squad2' for any SQuAD file): documents of an
    earlier run's corpus must not stay in the index as extra passages."""
    s = Settings()
    runs.eval_index("shared", [("a00_p000", "Apples grow on trees."),
                               ("a01_p000", "Bananas grow in bunches.")], s)
    idx, summary = runs.eval_index("shared", [("a00_p000", "Apricots grow on trees.")], s)
    assert idx.status().files == 1 and summary.chunks == 1
    assert sorted(p.name for p in (home / "shared" / "docs").iterdir()) == ["a00_p000.txt"]
    assert {h.path for h in idx.search("Bananas bunches", k=5)} == {
        str(home / "shared" / "docs" / "a00_p000.txt")}


@pytest.mark.parametrize("qrels", [[], [("q1", "d1", 0)]])
def test_a_split_without_a_relevant_document_is_refused_before_indexing(home, tmp_path, qrels):
    """A split whose file holds only its header (or only zero scores): no figure can be
    computed (it was a StatisticsError traceback, after the corpus was indexed)."""
    from rag.errors import DocchatError

    folder = beir(tmp_path / "toy", CORPUS, QUERIES, qrels, split="dev")
    with pytest.raises(DocchatError) as e:
        runs.run_beir(folder, Settings(), split="dev")
    assert str(e.value) == (f"{folder / 'qrels' / 'dev.tsv'}: no query has a relevant "
                            "document: nothing to measure")
    assert not home.exists()


# ---------------------------------------------------------------- SQuAD
def _articles(tmp_path, n):
    """A SQuAD file of ``n`` articles, one paragraph and one answerable question each."""
    data = {"data": [{"title": f"T{a}", "paragraphs": [{
        "context": f"Article {a} is about Zed{a}ton. It has a mill. The mill is old.",
        "qas": [{"id": f"q{a}", "question": f"Which town is article {a} about?",
                 "answers": [{"text": f"Zed{a}ton"}]}]}]} for a in range(n)]}
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    return f


def test_load_squad_names_paragraphs_by_article_and_keeps_every_question(tmp_path):
    paragraphs, questions = _squad(tmp_path, [
        ("Första stycket: Malmö.", [("Vilken stad?", "Malmö"), ("Okänt?", None)]),
        ("Second paragraph.", [])])
    assert paragraphs == {"a00_p000": "Första stycket: Malmö.", "a00_p001": "Second paragraph."}
    assert questions == [
        {"id": "0-0", "question": "Vilken stad?", "pid": "a00_p000", "impossible": False,
         "answers": ["Malmö"]},
        {"id": "0-1", "question": "Okänt?", "pid": "a00_p000", "impossible": True,
         "answers": []}]


def test_sample_is_every_question_or_a_fixed_random_subset():
    qs = [{"id": str(i)} for i in range(50)]
    assert runs.sample(qs, None) == qs and runs.sample(qs, 0) == qs and runs.sample(qs, 50) == qs
    a, b = runs.sample(qs, 10), runs.sample(qs, 10)
    assert a == b and len({q["id"] for q in a}) == 10  # the same ten each run, no repeats
    assert runs.sample(qs, 10, seed=14) != a
    assert qs == [{"id": str(i)} for i in range(50)]  # the caller's list is left alone


@pytest.mark.parametrize("n", [4, 120])
def test_articles_halves_split_by_article_number_even_past_99(tmp_path, n):
    """'odd' is the held-out half (the answerability model never saw it): an article must
    never land in the wrong half, however many the file has (SQuAD train has 442)."""
    paragraphs, questions = runs.load_squad(_articles(tmp_path, n))
    for half, parity in (("even", 0), ("odd", 1)):
        got = {int(q["id"][1:]) for q, _ in runs.absent_cases(paragraphs, questions, half)}
        assert got == {a for a in range(n) if a % 2 == parity}, half


@pytest.fixture
def asked(monkeypatch):
    """ask() replaced by a recorder that abstains."""
    import rag.answer

    calls = []

    def ask(idx, question, engine=None):
        calls.append((question, engine))
        return Answer(question, "Not found.", True, abstention=Abstention.NO_EVIDENCE)

    monkeypatch.setattr(rag.answer, "ask", ask)
    return calls


def test_run_squad_asks_the_chosen_half_and_reports_its_settings(home, tmp_path, asked):
    f = _articles(tmp_path, 5)
    r = runs.run_squad(f, Settings(), articles="odd", engine="extractive")
    assert sorted(q for q, _ in asked) == ["Which town is article 1 about?",
                                           "Which town is article 3 about?"]
    assert {e for _, e in asked} == {"extractive"}
    assert (r["questions"], r["articles"], r["engine"]) == (2, "odd", "extractive")
    assert r["abstention_recall"] is None or 0 <= r["abstention_recall"] <= 1
    assert r["chunks"] >= 5  # every article indexed, not only the half asked
    asked.clear()
    assert runs.run_squad(f, Settings(), limit=3)["questions"] == 3 and len(asked) == 3


@pytest.mark.parametrize("run", [runs.run_squad, runs.run_squad_absent])
def test_an_unknown_half_is_refused_before_anything_is_indexed(home, tmp_path, asked, run):
    with pytest.raises(ValueError) as e:
        run(_articles(tmp_path, 2), Settings(), articles="bogus")
    assert str(e.value) == "articles must be one of all, even, odd, not 'bogus'"
    assert not home.exists() and not asked  # no corpus written, no model asked for


def test_run_squad_absent_asks_the_edited_corpus_and_reports_the_share_abstained(
        home, tmp_path, asked):
    r = runs.run_squad_absent(_articles(tmp_path, 4), Settings(), articles="even")
    assert sorted(q for q, _ in asked) == ["Which town is article 0 about?",
                                           "Which town is article 2 about?"]
    assert (r["questions"], r["absent_abstained"], r["absent_abstained_by_evidence"]) == \
        (2, 1.0, 1.0)
    docs = home / "squad2-absent-even" / "docs"
    assert (docs / "a00_p000.txt").read_text(encoding="utf-8") == "It has a mill. The mill is old."
    assert "Zed1ton" in (docs / "a01_p000.txt").read_text(encoding="utf-8")  # odd: kept


def test_run_squad_absent_with_no_case_reports_zero_questions(home, tmp_path, asked):
    f = tmp_path / "one.json"
    f.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{
        "context": "Only one sentence here.", "qas": [
            {"id": "x", "question": "What?", "answers": [{"text": "one sentence"}]}]}]}]}),
        encoding="utf-8")
    r = runs.run_squad_absent(f, Settings())
    assert (r["questions"], r["absent_abstained"], r["median_seconds"]) == (0, 0.0, None)


def test_format_result_aligns_values_in_one_column():
    text = runs.format_result({"dataset": "scifact", "ndcg@10": 0.73, "é": None})
    lines = text.splitlines()
    assert lines == ["dataset  scifact", "ndcg@10  0.73", "é        None"]
