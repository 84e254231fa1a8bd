"""Tune hybrid fusion on BEIR SciFact *train* queries (never on test), then report test.

    .venv/bin/python benchmarks/tune_fusion.py [--beir ../shared/eval/beir_scifact]

Prints nDCG@10 / recall@100 for RRF and the convex combination at several dense weights.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from rag import retrieval
from rag.evaluation.runs import eval_index, load_beir, ndcg_at, recall_at
from rag.settings import Settings


def rank_docs(fused: dict[int, float], doc_of: dict[int, str]) -> list[str]:
    out: list[str] = []
    for cid in sorted(fused, key=lambda c: -fused[c]):
        d = doc_of.get(cid)
        if d and d not in out:
            out.append(d)
            if len(out) == 100:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beir", default="../shared/eval/beir_scifact")
    args = ap.parse_args()
    folder = Path(args.beir)
    settings = Settings.from_env()
    corpus, queries, _ = load_beir(folder, "test")
    idx, _ = eval_index(folder.name, corpus.items(), settings)
    snap, emb = idx.snapshot(), idx.embedder()
    doc_of: dict[int, str] = {}

    def docs(ids) -> None:
        todo = [i for i in ids if i not in doc_of]
        doc_of.update({r.id: Path(r.path).stem for r in snap.chunks(todo)})

    for split in ("train", "test"):
        _, _, qrels = load_beir(folder, split)
        runs = []
        for qid in sorted(qrels):
            q = queries[qid]
            d = retrieval.dense(snap, retrieval.query_vector(emb, q, [], 0), 300)
            s = retrieval.sparse(snap, q, 300)
            docs(list(d) + list(s))
            runs.append((qrels[qid], d, s))
        variants = {"dense": lambda d, s: d, "bm25": lambda d, s: s,
                    "rrf60": lambda d, s: retrieval.rrf(d, s, 60)}
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            variants[f"convex{w}"] = lambda d, s, w=w: retrieval.fuse(d, s, w)
        for name, fn in variants.items():
            nd, rc = [], []
            for rel, d, s in runs:
                ranked = rank_docs(fn(d, s), doc_of)
                nd.append(ndcg_at(ranked, rel, 10))
                rc.append(recall_at(ranked, rel, 100))
            print(f"{split:5} {name:10} nDCG@10 {statistics.mean(nd):.4f} "
                  f"recall@100 {statistics.mean(rc):.4f}  ({len(runs)} queries)")


if __name__ == "__main__":
    main()
