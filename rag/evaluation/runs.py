"""Measured quality: BEIR retrieval metrics (nDCG@10, recall@100) and SQuAD 2.0 QA metrics.

Evaluation corpora are written as files and indexed with the product's own pipeline
(incrementally: a second run re-embeds nothing), under ``data/eval/<name>``.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rag.errors import DocchatError
from rag.settings import Settings
from rag.types import Fusion

EVAL_HOME = Path("data/eval")


def eval_index(name: str, docs: Iterable[tuple[str, str]], settings: Settings):
    """Write ``(doc_id, text)`` as files and bring an index of them up to date (files of an
    earlier run's corpus under the same name are removed: the index holds this corpus)."""
    from rag.index import Index

    folder = EVAL_HOME / name
    docs_dir = folder / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = set()
    for doc_id, text in docs:
        f = docs_dir / f"{_safe(doc_id)}.txt"
        written.add(f.name)
        if not f.exists() or f.read_text(encoding="utf-8") != text:
            f.write_text(text, encoding="utf-8")
    for f in docs_dir.glob("*.txt"):
        if f.name not in written:
            f.unlink()
    idx = Index(folder / "index", settings.replace(index_dir=str(folder / "index")))
    summary = idx.update([docs_dir])
    return idx, summary


def _safe(doc_id: str) -> str:
    """The file name (stem) of ``doc_id``: itself when it is a safe one; else its safe
    characters and a hash of it, so that two ids differing only in other characters
    ('Paris_(film)', 'Paris_[film]') stay two files."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", doc_id)
    if safe == doc_id and not safe.startswith("."):
        return safe
    return f"{safe.lstrip('.')}-{hashlib.sha1(doc_id.encode('utf-8')).hexdigest()[:10]}"


# ---------------------------------------------------------------- BEIR retrieval
def load_beir(folder: Path, split: str) -> tuple[dict, dict, dict]:
    corpus = _jsonl(folder / "corpus.jsonl", lambda d: (
        d["_id"], (d.get("title", "") + " " + d.get("text", "")).strip()))
    queries = _jsonl(folder / "queries.jsonl", lambda d: (d["_id"], d["text"]))
    qrels: dict[str, dict[str, int]] = {}
    path = folder / "qrels" / f"{split}.tsv"
    with open(path, encoding="utf-8") as f:
        next(f, None)  # the header
        for number, line in enumerate(f, 2):
            parts = line.strip().split("\t")
            with _line_of(path, number, "a BEIR judgement (query-id, corpus-id, score)"):
                if len(parts) == 3 and int(parts[2]) > 0:
                    qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels


def _jsonl(path: Path, read: Callable[[dict], tuple[str, str]]) -> dict[str, str]:
    """``read`` of each object of a BEIR JSON-lines file, as a dict; a line that is not one
    (or lacks what ``read`` takes from it) is a one-line DocchatError naming the line."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                with _line_of(path, number, 'a BEIR object with "_id" and "text"'):
                    key, value = read(json.loads(line))
                    out[key] = value
    return out


@contextmanager
def _line_of(path: Path, number: int, what: str) -> Iterator[None]:
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DocchatError(f"{path}, line {number}: not {what} ({_why(e)})") from None


def _why(e: Exception) -> str:
    return f"no {e.args[0]!r}" if isinstance(e, KeyError) else str(e).splitlines()[0]


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def doc_ranking(idx, query: str, n_docs: int, fusion: Fusion) -> list[str]:
    """Documents ranked by their best chunk."""
    hits = idx.search(query, k=n_docs * 3, fusion=fusion)
    out: list[str] = []
    for h in hits:
        doc = Path(h.path).stem
        if doc not in out:
            out.append(doc)
    return out[:n_docs]


def run_beir(folder: Path, settings: Settings, limit: int | None = None,
             fusion: Fusion = Fusion.CONVEX, split: str = "test", distractors: int | None = None
             ) -> dict:
    """BEIR metrics over the first ``limit`` queries (all by default). With ``distractors``
    the corpus is cut down to the documents relevant to those queries plus that many others
    (the first in corpus order): a smaller, harder-to-compare but much cheaper run for tests;
    the published-comparable figure is the full corpus (``make eval``)."""
    corpus, queries, qrels = load_beir(folder, split)
    if not qrels:
        raise DocchatError(f"{folder / 'qrels' / f'{split}.tsv'}: no query has a relevant "
                           "document: nothing to measure")
    settings = settings.replace(fetch_k=max(settings.fetch_k, 300))
    qids = sorted(qrels)[:limit] if limit else sorted(qrels)
    name = folder.name
    if distractors is not None:
        relevant = {d for q in qids for d in qrels[q]}
        others = [d for d in corpus if d not in relevant][:distractors]
        corpus = {d: corpus[d] for d in corpus if d in relevant or d in set(others)}
        name = f"{folder.name}-{len(qids)}q-{distractors}d"
    t0 = time.perf_counter()
    idx, summary = eval_index(name, corpus.items(), settings)
    t_index = time.perf_counter() - t0
    t1 = time.perf_counter()
    nd, rc = [], []
    ids = {_safe(d): d for d in corpus}  # file stem -> BEIR id
    for qid in qids:
        ranked = [ids.get(d, d) for d in doc_ranking(idx, queries[qid], 100, fusion)]
        nd.append(ndcg_at(ranked, qrels[qid], 10))
        rc.append(recall_at(ranked, qrels[qid], 100))
    t_q = time.perf_counter() - t1
    return {"dataset": name, "split": split, "queries": len(qids), "fusion": str(fusion),
            "documents": len(corpus),
            "dense_weight": settings.dense_weight, "ndcg@10": round(statistics.mean(nd), 4),
            "recall@100": round(statistics.mean(rc), 4), "chunks": summary.chunks,
            "embedded_this_run": summary.embedded, "index_seconds": round(t_index, 1),
            "query_seconds": round(t_q, 1), "seconds": round(t_index + t_q, 1)}


# ---------------------------------------------------------------- SQuAD 2.0 QA
def load_squad(path: Path) -> tuple[dict[str, str], list[dict]]:
    """The paragraphs and questions of a SQuAD 2.0 file; a file that is not one is a one-line
    DocchatError naming it."""
    paragraphs, questions = {}, []
    try:
        for a, article in enumerate(json.loads(path.read_text(encoding="utf-8"))["data"]):
            for p, para in enumerate(article["paragraphs"]):
                pid = f"a{a:02d}_p{p:03d}"
                paragraphs[pid] = para["context"]
                for qa in para["qas"]:
                    questions.append({"id": qa["id"], "question": qa["question"], "pid": pid,
                                      "impossible": qa.get("is_impossible", False),
                                      "answers": [x["text"] for x in qa.get("answers", [])]})
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DocchatError(f"{path}: not a SQuAD 2.0 file ({_why(e)})") from None
    return paragraphs, questions


def sample(questions: list[dict], limit: int | None, seed: int = 13) -> list[dict]:
    if not limit or limit >= len(questions):
        return questions
    rng = random.Random(seed)
    return rng.sample(questions, limit)


ARTICLES = ("all", "even", "odd")  # odd articles: held out from answerability training


def run_squad(path: Path, settings: Settings, limit: int | None = None,
              engine: str | None = None, articles: str = "all") -> dict:
    from rag.answer import ask
    from rag.evaluation.answer_rows import answer_shape
    from rag.evaluation.squad_rows import score_answers

    if articles not in ARTICLES:
        raise ValueError(f"articles must be one of {', '.join(ARTICLES)}, not {articles!r}")
    paragraphs, questions = load_squad(path)
    idx, summary = eval_index("squad2", paragraphs.items(), settings)
    questions = [q for q in questions if _in_half(q["pid"], articles)]  # pid "aNN_pMMM"
    rows = []
    for q in sample(questions, limit):
        t = time.perf_counter()
        answer = ask(idx, q["question"], engine=engine)
        rows.append((q, answer, time.perf_counter() - t))
    result = score_answers(rows)
    result.update(answer_shape([a for _, a, _ in rows]))
    result.update({"questions": len(rows), "engine": engine or settings.engine,
                   "articles": articles, "abstain_threshold": settings.abstain_threshold,
                   "answerable_threshold": settings.answerable_threshold,
                   "reader_threshold": settings.reader_threshold,
                   "checker_threshold": settings.checker_threshold,
                   "chunks": summary.chunks})
    return result


def absent_cases(paragraphs: dict[str, str], questions: list[dict], articles: str = "all"
                 ) -> list[tuple[dict, str]]:
    """Answerable questions made unanswerable by removing their answer from the documents:
    (question, its paragraph without every sentence holding a reference answer), one question
    per paragraph, only when no other paragraph holds a reference answer either (so the answer
    is nowhere in the corpus) and the paragraph keeps at least two sentences (it stays on the
    question's topic). The right response to each is an abstention."""
    from rag.evaluation.squad_rows import normalise
    from rag.sentences import sentence_spans

    norm = {pid: normalise(t) for pid, t in paragraphs.items()}
    out, seen = [], set()
    for q in questions:
        pid = q["pid"]
        if q["impossible"] or pid in seen or not _in_half(pid, articles):
            continue
        golds = [normalise(g) for g in q["answers"] if normalise(g)]
        if not golds or any(g in t for other, t in norm.items() if other != pid for g in golds):
            continue
        text = paragraphs[pid]
        kept = [text[a:b] for a, b in sentence_spans(text)
                if not any(g in normalise(text[a:b]) for g in golds)]
        rest = "".join(kept).strip()
        if len(kept) < 2 or any(g in normalise(rest) for g in golds):
            continue  # an answer split across sentences, or too little left
        seen.add(pid)
        out.append((q, rest))
    return out


def _in_half(pid: str, articles: str) -> bool:
    return articles == "all" or int(pid[1:pid.index("_")]) % 2 == (articles == "odd")


def run_squad_absent(path: Path, settings: Settings, limit: int | None = None,
                     engine: str | None = None, articles: str = "all") -> dict:
    """Questions whose answer was removed from an on-topic corpus (``absent_cases``), asked
    against the SQuAD paragraphs with those answers removed: the share that abstains."""
    from rag.answer import ask
    from rag.evaluation.squad_rows import abstained_by

    paragraphs, questions = load_squad(path)
    if articles not in ARTICLES:
        raise ValueError(f"articles must be one of {', '.join(ARTICLES)}, not {articles!r}")
    cases = absent_cases(paragraphs, questions, articles)
    edited = {**paragraphs, **{q["pid"]: rest for q, rest in cases}}
    idx, summary = eval_index(f"squad2-absent-{articles}", edited.items(), settings)
    answers, seconds = [], []
    for q, _ in sample(cases, limit):
        t = time.perf_counter()
        answers.append(ask(idx, q["question"], engine=engine))
        seconds.append(time.perf_counter() - t)
    n = max(1, len(answers))
    return {"absent_abstained": round(sum(a.abstained for a in answers) / n, 4),
            **abstained_by("absent", answers),
            "questions": len(answers), "engine": engine or settings.engine,
            "articles": articles, "abstain_threshold": settings.abstain_threshold,
            "answerable_threshold": settings.answerable_threshold,
            "reader_threshold": settings.reader_threshold,
            "checker_threshold": settings.checker_threshold,
            "median_seconds": round(statistics.median(seconds), 4) if seconds else None,
            "chunks": summary.chunks}


def format_result(result: dict) -> str:
    width = max(len(k) for k in result)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in result.items())
