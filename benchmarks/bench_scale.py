"""Store figures at scale (printed, never asserted), as issue 8 asks.

For each size (10,000 and 100,000 chunks by default; --million adds 1,000,000) a fresh build
process indexes real text (SciFact abstracts, repeated and shuffled, each copy made unique by
a numbered line, so that BM25 is real) with SYNTHETIC vectors: a deterministic function of the
text (one of 256 random topic centroids plus noise, normalised; 384 dimensions like MiniLM), so
only the store's write path is timed, not the model. Then it times, through the product's own
builder: adding one file, changing it, deleting it, and a no-change re-run over all files.
A fresh query process then times hybrid search (Index.search, k=5, warm, the question vector
synthetic too), and measures recall@10 of the dense search against an exact scan over the
same live vectors (queries: perturbed copies of stored vectors), and both peak RSS figures.

The same script drives the OLD store for the ratio: run it with PYTHONPATH pointing at a
checkout of the commit before the segment store (it uses only indexing.update and Index).

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10000 100000] [--million] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "beir_scifact"
DIM = 384
CENTROIDS = 256
QUERIES = 100


class SyntheticEmbedder:
    """Normalised vectors that depend only on the text: a topic centroid plus noise."""

    def __init__(self) -> None:
        self.centroids = np.random.default_rng(0).standard_normal((CENTROIDS, DIM)).astype(
            np.float32)

    def encode(self, texts, progress=False, **_):
        out = np.empty((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            h = int(hashlib.sha1(t.encode()).hexdigest()[:12], 16)
            noise = np.random.default_rng(h).standard_normal(DIM).astype(np.float32)
            v = self.centroids[h % CENTROIDS] + 0.8 * noise
            out[i] = v / np.linalg.norm(v)
        return out


def abstracts() -> list[str]:
    with (SCIFACT / "corpus.jsonl").open() as f:
        docs = [json.loads(line) for line in f]
    return [f"{d['title']}\n\n{d['text']}" for d in docs if d["text"].strip()]


def write_corpus(folder: Path, n_abstracts: int, n_files: int = 0) -> None:
    """``n_abstracts`` abstracts in ``n_files`` files (0: one abstract per file)."""
    texts = abstracts()
    rng = random.Random(0)
    folder.mkdir(parents=True)
    n_files = n_files or n_abstracts
    per = -(-n_abstracts // n_files)
    for i in range(n_files):
        sub = folder / f"{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir()
        body = "\n\n".join(f"Record {i}.{j}.\n{rng.choice(texts)}" for j in range(per))
        (sub / f"doc-{i:07d}.txt").write_text(body + "\n")


def settings(index: Path):
    """The defaults, or DOCCHAT_* settings from the environment (e.g. a cheaper HNSW build)."""
    from rag.settings import Settings

    return Settings.from_env(index_dir=str(index))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return round(time.perf_counter() - t, 3)


def worker_build(work: Path, chunks: int, files: int = 0) -> dict:
    from rag import indexing

    docs, index = work / "docs", work / "index"
    # SciFact abstracts: 2,440 chunks of 200 tokens per 1,000 files of one abstract; 2,150 per
    # 1,000 abstracts when files hold several (chunks then run across abstracts)
    per_file = 2.15 if files else 2.44
    write_corpus(docs, max(1, int(chunks / per_file)), files)
    s = settings(index)
    emb = lambda _: SyntheticEmbedder()  # noqa: E731

    commit_s = _time_commits()

    def run():
        commit_s.clear()
        return indexing.update(index, s, [str(docs)], embedder_factory=emb)

    def step(name: str) -> None:
        out[name + "_s"] = timed(run)  # what the caller waits for: merges run after, beside
        _wait_merges(index)
        if commit_s:  # the store's own part: the commit (segment, transaction, merges)
            out[name + "_commit_s"] = round(sum(commit_s), 3)

    t = time.perf_counter()
    first = run()
    _wait_merges(index)
    out = {"chunks": first.chunks, "files": len(first.added),
           "build_s": round(time.perf_counter() - t, 1)}
    extra = docs / "extra.txt"
    extra.write_text("Record extra.\nA brand new note about quokka migration in winter.\n")
    step("add")
    extra.write_text("Record extra.\nThe note now speaks of aardvark burrows instead.\n")
    step("change")
    extra.unlink()
    step("delete")
    out["nochange_s"] = timed(run)
    out["disk_mb"] = round(sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
                           / 2**20, 1)
    out["build_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["segments"] = _segments(index)
    return out


def _wait_merges(index: Path) -> None:
    """Let background merges finish outside the timed part (the old store has none)."""
    try:
        from rag.store import open_store

        open_store(index).wait_merges()
    except (ImportError, AttributeError):
        pass


def _segments(index: Path) -> int | str:
    _wait_merges(index)
    try:
        from rag.store import open_store

        return open_store(index).reader().stats().segments
    except (ImportError, AttributeError):
        return "-"


def _time_commits() -> list[float]:
    """Seconds spent in the new store's commit per run (absent from the old store)."""
    spent: list[float] = []
    try:
        from rag.store.local.writer import LocalWriter
    except ImportError:
        return spent
    commit = LocalWriter.commit

    def timed_commit(self, manifest):
        t = time.perf_counter()
        try:
            return commit(self, manifest)
        finally:
            spent.append(time.perf_counter() - t)

    LocalWriter.commit = timed_commit
    return spent


def worker_query(work: Path) -> dict:
    from rag.index import Index

    with (SCIFACT / "queries.jsonl").open() as f:
        questions = [json.loads(line)["text"] for line in f][:QUERIES]
    emb = SyntheticEmbedder()
    Index.embedder = lambda self: emb  # the model is not what is measured here
    idx = Index.open(work / "index", settings(work / "index"))
    idx.search(questions[0], k=5)  # warm: open the snapshot, map the segments
    lat = []
    for q in questions:
        t = time.perf_counter()
        idx.search(q, k=5)
        lat.append(time.perf_counter() - t)
    lat_ms = np.asarray(lat) * 1000
    scoped = scoped_latency(idx, questions)
    # the query process's peak before the recall check, which loads every live vector into RAM
    # (peak RSS counts the pages of memory-mapped files it touched: page cache, shared and
    # reclaimable; "private" is the process's own memory, RssAnon, at the end of the loop)
    rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    private = _rss_anon_mb()
    return {"query_p50_ms": round(float(np.percentile(lat_ms, 50)), 1),
            "query_p95_ms": round(float(np.percentile(lat_ms, 95)), 1),
            "recall_at_10": recall(idx), "query_rss_mb": rss, "query_private_mb": private,
            **scoped}


def scoped_latency(idx, questions) -> dict:
    """Hybrid search limited to 1 document, 10% and 100% of the documents (issue 21), warm,
    interleaved with the unscoped search so that the ratios come from one stretch of time;
    the scope is resolved once (its resolution is timed on its own: a conversation asks many
    questions of one scope)."""
    docs = sorted(d.path for d in idx.documents() if d.status == "indexed")
    rng = random.Random(7)
    scopes = {"1_doc": [rng.choice(docs)], "10pct": rng.sample(docs, max(1, len(docs) // 10)),
              "100pct": docs}
    out: dict = {}
    resolved = {}
    for name, paths in scopes.items():
        t = time.perf_counter()
        resolved[name] = idx.scope(paths)
        out[f"scope_{name}_resolve_ms"] = round((time.perf_counter() - t) * 1000, 1)
        idx.search(questions[0], k=5, documents=resolved[name])  # warm: the row masks
    from rag.store.local import segment

    # "10pct_pread": the 10% scope read as before issue 21's fix (one read per run of
    # consecutive rows, never through the map), in the same stretch of time
    lat: dict[str, list[float]] = {name: [] for name in ["none", *scopes, "10pct_pread"]}
    runs = segment.MAPPED_RUNS
    for q in questions[:50]:
        for name in lat:
            segment.MAPPED_RUNS = 1 << 62 if name == "10pct_pread" else runs
            t = time.perf_counter()
            idx.search(q, k=5, documents=resolved.get(name.replace("_pread", "")))
            lat[name].append(time.perf_counter() - t)
    segment.MAPPED_RUNS = runs
    for name, xs in lat.items():
        out[f"scoped_{name}_p50_ms"] = round(float(np.percentile(np.asarray(xs) * 1000, 50)), 1)
    for name, scope in resolved.items():
        out[f"scoped_{name}_recall_at_10"] = scoped_recall(idx.snapshot(), scope)
    return out


def scoped_recall(snap, resolved) -> float | str:
    """recall@10 of the scoped dense search against an exact scan of the scope's live rows,
    tie-aware as ``dense_recall`` (a graph's filtered search may miss some; issue 21)."""
    from rag.store.protocol import Scope

    if not hasattr(snap, "segments"):
        return "exact (flat)"
    scope = Scope(shas=resolved.shas)
    segs = snap.segments()
    masks = snap._scope_masks(scope)  # the rows the store filters on, per segment
    vecs = np.concatenate([np.asarray(seg.vectors)[live & m] for (seg, live), m
                           in zip(segs, masks)])
    if len(vecs) < 10:
        return "-"
    import faiss

    rng, hits = np.random.default_rng(2), []
    for row in rng.choice(len(vecs), size=min(QUERIES, len(vecs)), replace=False):
        q = vecs[row] + 0.05 * rng.standard_normal(vecs.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        kth = faiss.knn(q[None], vecs, 10, metric=faiss.METRIC_INNER_PRODUCT)[0][0][-1]
        got = snap.search_dense(q, 10, scope)
        hits.append(sum(1 for s in got.values() if s >= kth - 1e-5) / 10)
    return round(float(np.mean(hits)), 3)


def _rss_anon_mb() -> int | str:
    try:
        with open("/proc/self/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))
        return round(kb / 1024)
    except (OSError, StopIteration):
        return "-"


def recall(idx) -> float | str:
    snap = idx.snapshot()
    if not hasattr(snap, "segments"):
        return "exact (flat)"
    segs = snap.segments()
    if not any(seg.hnsw is not None for seg, _ in segs):
        return 1.0  # every segment is scanned exactly
    vecs = np.concatenate([np.asarray(seg.vectors)[live] for seg, live in segs])
    return dense_recall(snap, vecs, np.random.default_rng(1))


def dense_recall(snap, vecs: np.ndarray, rng) -> float:
    """recall@10 of ``snap.search_dense`` against an exact scan, tie-aware: a returned chunk
    counts when its exact score reaches the exact 10th best (repeated abstracts give identical
    vectors, and which of several equal ones a search returns is arbitrary)."""
    import faiss

    hits = []
    for row in rng.choice(len(vecs), size=QUERIES, replace=False):
        q = vecs[row] + 0.05 * rng.standard_normal(vecs.shape[1]).astype(np.float32)
        q /= np.linalg.norm(q)
        kth = faiss.knn(q[None], vecs, 10, metric=faiss.METRIC_INNER_PRODUCT)[0][0][-1]
        got = snap.search_dense(q, 10)
        hits.append(sum(1 for s in got.values() if s >= kth - 1e-5) / 10)
    return round(float(np.mean(hits)), 3)


def worker_ann(work: Path, n: int) -> dict:
    """An index of ``n`` unique synthetic vectors written through the store's own writer (one
    segment, HNSW when n >= ann_min_vectors): recall@10, dense query time, memory."""
    from rag.settings import Settings
    from rag.store import ChunkerSettings, FileRecord, Manifest, open_store
    from rag.types import Chunk, Page

    s = Settings(index_dir=str(work / "ann"))
    store = open_store(work / "ann", s)
    rng = np.random.default_rng(0)
    cents = SyntheticEmbedder().centroids
    vecs = cents[rng.integers(0, CENTROIDS, n)] + 0.8 * rng.standard_normal((n, DIM)).astype(
        np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    chunks = [Chunk(page=1, start=0, end=5, text=words[i % 5]) for i in range(n)]
    t = time.perf_counter()
    with store.writer() as w:
        w.upsert("sha", [Page("a", 1, "alpha")], chunks, vecs)
        w.set_files([FileRecord("a", "sha", 5)], [])
        w.commit(Manifest(2, "synthetic", DIM, ChunkerSettings(0, 0, 0), ()))
    build = time.perf_counter() - t
    del vecs
    snap = store.reader()
    (seg, _), = snap.segments()
    lat = []
    vecs = np.asarray(seg.vectors)
    for row in rng.choice(n, size=QUERIES, replace=False):
        t = time.perf_counter()
        snap.search_dense(vecs[row], 10)
        lat.append((time.perf_counter() - t) * 1000)
    return {"vectors": n, "hnsw": seg.hnsw is not None, "write_s": round(build, 1),
            "recall_at_10": dense_recall(snap, vecs, np.random.default_rng(1)),
            "dense_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "disk_mb": round(sum(p.stat().st_size for p in (work / "ann").rglob("*")
                                 if p.is_file()) / 2**20, 1),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_worker(kind: str, work: Path, chunks: int, files: int = 0) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--work", str(work),
                           "--chunks", str(chunks), "--files", str(files)],
                          capture_output=True, text=True, env=dict(os.environ))
    if proc.returncode:
        raise SystemExit(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--million", action="store_true", help="also 1,000,000 chunks (hours)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ann", type=int, default=0,
                    help="only the dense ANN figures for this many unique synthetic vectors")
    ap.add_argument("--worker", choices=["build", "query", "ann"])
    ap.add_argument("--work")
    ap.add_argument("--chunks", type=int, default=0)
    ap.add_argument("--files", type=int, default=0,
                    help="files of the corpus (0: one abstract per file; --million: 10,000)")
    ap.add_argument("--keep", help="build in this folder and keep it (to re-run --query-only)")
    ap.add_argument("--query-only", action="store_true",
                    help="only the query figures, over the index kept in --keep")
    args = ap.parse_args()
    if args.worker:
        work = Path(args.work)
        res = {"build": lambda: worker_build(work, args.chunks, args.files),
               "query": lambda: worker_query(work),
               "ann": lambda: worker_ann(work, args.chunks)}[args.worker]()
        print(json.dumps(res))
        return
    if args.ann:
        work = Path(tempfile.mkdtemp(prefix="bench-ann-"))
        try:
            print(json.dumps(run_worker("ann", work, args.ann)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    sizes = [1_000_000] if args.million and args.keep else \
        args.sizes + ([1_000_000] if args.million else [])
    rows = []
    for n in sizes:
        # a million chunks in 10,000 files of about 40 abstracts: the one-file runs then walk
        # 10,000 files (the no-change goal), not 410,000
        files = args.files or (10_000 if n >= 1_000_000 else 0)
        work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
        try:
            build = {} if args.query_only else run_worker("build", work, n, files)
            row = {"target": n, **build, **run_worker("query", work, n)}
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        rows.append(row)
        if not args.json:
            print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"uptime: {os.getloadavg()}  store: {sys.modules['rag'].__file__ if 'rag' in sys.modules else 'see PYTHONPATH'}")


if __name__ == "__main__":
    main()
