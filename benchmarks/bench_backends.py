"""Store backends side by side (printed, never asserted), as issue 12 asks: the embedded FAISS
store and milvus-lite at 10,000 and 50,000 chunks.

The corpus and vectors are bench_scale.py's documented generator: real text (SciFact
abstracts, repeated, each copy made unique by a numbered line, so BM25 is real) with SYNTHETIC
vectors (a deterministic function of the text, 384 dimensions), so the store is timed, not
the model. Per backend and size, a fresh build process times the first build and adding one
file through the product's builder and reports its peak RSS; a fresh query process times
hybrid search (Index.search, k=5, warm; the question vector synthetic too) and reports its
peak RSS. milvus-lite runs Milvus in the docchat process, in Python: it is a test target and a
small-setup convenience, not a recommendation for size; a Milvus server is not measured here.

    .venv/bin/python benchmarks/bench_backends.py [--sizes 10000 50000] [--backends faiss lite]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import SCIFACT, SyntheticEmbedder, write_corpus  # noqa: E402

QUERIES = 50
PER_FILE = 2.44  # SciFact abstracts: about 2.44 chunks of 200 tokens per file


def store_url(backend: str, work: Path) -> str:
    return f"milvus://{work / 'lite' / 'index.db'}" if backend == "lite" else ""


def settings(work: Path, backend: str):
    from rag.settings import Settings

    return Settings(index_dir=str(work / "index"), store=store_url(backend, work))


def worker_build(work: Path, backend: str) -> dict:
    from rag import indexing

    s = settings(work, backend)
    emb = lambda _: SyntheticEmbedder()  # noqa: E731
    t = time.perf_counter()
    first = indexing.update(work / "index", s, [str(work / "docs")], embedder_factory=emb)
    out = {"chunks": first.chunks, "build_s": round(time.perf_counter() - t, 1)}
    extra = work / "docs" / "extra.txt"
    extra.write_text("Record extra.\nA brand new note about quokka migration in winter.\n")
    t = time.perf_counter()
    indexing.update(work / "index", s, None, embedder_factory=emb)
    out["add_s"] = round(time.perf_counter() - t, 2)
    extra.unlink()
    out["build_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def worker_query(work: Path, backend: str) -> dict:
    from rag.index import Index

    with (SCIFACT / "queries.jsonl").open() as f:
        questions = [json.loads(line)["text"] for line in f][:QUERIES]
    emb = SyntheticEmbedder()
    Index.embedder = lambda self: emb  # the model is not what is measured here
    idx = Index.open(work / "index", settings(work, backend))
    idx.search(questions[0], k=5)  # warm
    lat = []
    for q in questions:
        t = time.perf_counter()
        idx.search(q, k=5)
        lat.append((time.perf_counter() - t) * 1000)
    return {"query_p50_ms": round(float(np.percentile(lat, 50)), 1),
            "query_p95_ms": round(float(np.percentile(lat, 95)), 1),
            "query_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_worker(kind: str, work: Path, backend: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--work", str(work),
                           "--backend", backend], capture_output=True, text=True,
                          env=dict(os.environ))
    if proc.returncode:
        raise SystemExit(f"{kind} worker ({backend}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--backends", nargs="+", default=["faiss", "lite"],
                    choices=["faiss", "lite"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", choices=["build", "query"])
    ap.add_argument("--work")
    ap.add_argument("--backend")
    args = ap.parse_args()
    if args.worker:
        work = Path(args.work)
        fn = worker_build if args.worker == "build" else worker_query
        print(json.dumps(fn(work, args.backend)))
        return
    if not (SCIFACT / "corpus.jsonl").exists():
        raise SystemExit(f"{SCIFACT} is missing (the shared evaluation data)")
    rows = []
    for size in args.sizes:
        for backend in args.backends:
            work = Path(tempfile.mkdtemp(prefix=f"bench-backends-{backend}-{size}-"))
            try:
                write_corpus(work / "docs", max(1, int(size / PER_FILE)))
                row = {"backend": "faiss" if backend == "faiss" else "milvus-lite",
                       "target": size}
                row.update(run_worker("build", work, backend))
                row.update(run_worker("query", work, backend))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    cols = ["backend", "chunks", "build_s", "add_s", "query_p50_ms", "query_p95_ms",
            "build_rss_mb", "query_rss_mb"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
