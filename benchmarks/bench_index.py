"""Indexing figures (printed, never asserted), as issue 2 asks:

- full pipeline throughput (Index.update: read, chunk, load the model, embed, write) in chunks/s
  over a few thousand chunks (the first SciFact abstracts, or generated text when absent);
- raw SentenceTransformer.encode throughput on the same chunk texts in the same run (batch 32,
  normalised; in a fresh process of its own, model loaded before the clock starts, so that
  neither side runs on a model the other warmed up), and the ratio pipeline / raw (goal >= 0.9);
- a no-change re-run over 1,000 small files in a fresh process (goal < 2 s, no model loaded);
- peak memory (max RSS) of the build process.

    .venv/bin/python benchmarks/bench_index.py [--docs 1500] [--small-files 1000] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "beir_scifact" / "corpus.jsonl"
RERUN_PROBE = ("import json, sys, time\nt = time.perf_counter()\nfrom rag.cli import main\n"
               "rc = main(sys.argv[1:])\nprint('@@' + json.dumps({'rc': rc, 'seconds': "
               "time.perf_counter() - t, 'torch': 'torch' in sys.modules}))")
WORDS = ("river bridge council budget harbour vaccine orchard turbine museum railway storm "
         "festival manuscript canal winter copper village school market tunnel").split()


def write_corpus(folder: Path, n: int) -> str:
    """``n`` documents as text files: SciFact abstracts (title + text), else generated."""
    folder.mkdir(parents=True)
    if SCIFACT.exists():
        with SCIFACT.open() as f:
            for i, line in zip(range(n), f):
                doc = json.loads(line)
                (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
        return f"first {n} SciFact abstracts"
    rng = random.Random(0)
    for i in range(n):
        sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 25))).capitalize() + "."
                     for _ in range(20)]
        (folder / f"doc-{i:05d}.txt").write_text(" ".join(sentences) + "\n")
    return f"{n} generated documents (SciFact absent)"


def write_small_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = random.Random(1)
    for i in range(n):
        words = " ".join(rng.choices(WORDS, k=12))
        (folder / f"note-{i:05d}.txt").write_text(f"Note {i}. The {words}.\n")


def worker_build(docs: str, index: str) -> dict:
    """Runs in its own process: the whole pipeline, as ``docchat index`` runs it."""
    from rag import indexing
    from rag.index import Index
    from rag.settings import Settings

    phases: dict[str, float] = {}
    load_model = indexing._default_embedder

    def timed_load(settings):  # to tell model loading apart from embedding
        t = time.perf_counter()
        embedder = load_model(settings)
        phases["model load"] = time.perf_counter() - t
        return embedder

    indexing._default_embedder = timed_load
    marks: list[tuple[float, str]] = []
    settings = Settings.from_env(index_dir=index)
    idx = Index.open(index, settings, create=True)
    t = time.perf_counter()
    summary = idx.update([docs], on_progress=lambda f, m: marks.append((time.perf_counter(), m)))
    pipeline_s = time.perf_counter() - t
    when = {m.split()[0]: at for at, m in marks}
    phases["read + chunk"] = when["embedding"] - t
    phases["embed"] = when["writing"] - when["embedding"] - phases.get("model load", 0.0)
    phases["write"] = when["done"] - when["writing"]
    return {"chunks": summary.chunks, "embedded": summary.embedded, "pipeline_s": pipeline_s,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "phases": phases}


def worker_raw(docs: str) -> dict:
    """Runs in its own process: plain SentenceTransformer.encode on the chunk texts the
    pipeline makes of ``docs`` (chunked here, untimed)."""
    from sentence_transformers import SentenceTransformer

    from rag.ingest.chunking import chunk_pages
    from rag.embedding.model_files import model_dir, token_offsets
    from rag.ingest.files import discover
    from rag.ingest.loaders import load
    from rag.settings import Settings

    settings = Settings.from_env()
    offsets = token_offsets(settings.embed_model)
    texts = [c.text.strip() for path in discover([docs])[0] for c in chunk_pages(
        load(path), offsets, settings.chunk_tokens, settings.chunk_overlap)]
    t = time.perf_counter()
    model = SentenceTransformer(str(model_dir(settings.embed_model)), device="cpu")
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return {"raw_s": time.perf_counter() - t, "raw_chunks": len(texts), "load_s": load_s}


def run_worker(*args: Path | str) -> dict:
    cmd = [sys.executable, __file__, "--worker", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_rerun(docs: Path, index: Path) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RERUN_PROBE, "index", str(docs), "--index",
                           str(index), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    out, _, probe = proc.stdout.rpartition("@@")
    summary, probe = json.loads(out), json.loads(probe)
    return {"wall_s": wall, "in_process_s": probe["seconds"], "torch_imported": probe["torch"],
            "embedded": summary["embedded"], "unchanged": len(summary["unchanged"]),
            "rc": probe["rc"]}


def report(r: dict) -> str:
    b, rr = r["build"], r["rerun"]
    runs = b["raw_runs_cps"]
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in b["phases"].items())
    return "\n".join([
        f"corpus:                      {r['corpus']} -> {b['chunks']} chunks",
        f"pipeline (Index.update):     {b['pipeline_s']:.1f} s, "
        f"{r['pipeline_cps']:.1f} chunks/s  ({phases})",
        f"raw encode (batch 32, norm): {r['raw_cps']:.1f} chunks/s on {b['raw_chunks']} chunks, "
        f"mean of a run before ({runs[0]:.1f}) and after ({runs[1]:.1f}) the pipeline, "
        f"each in a fresh process, model load ({b['raw_load_s']:.1f} s) not counted",
        f"pipeline / raw encode:       {r['ratio']:.2f}  (goal >= 0.9)",
        f"pipeline without model load: {r['ratio_warm']:.2f} of raw encode speed",
        f"no-change re-run:            {rr['wall_s']:.2f} s wall for {rr['unchanged']} files "
        f"({rr['in_process_s']:.2f} s in process; goal < 2 s); embedded {rr['embedded']}; "
        f"torch imported: {'yes' if rr['torch_imported'] else 'no'}",
        f"peak memory (build process): {b['peak_rss_mib']:.0f} MiB max RSS",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1500, help="documents in the big corpus")
    ap.add_argument("--small-files", type=int, default=1000, help="files for the re-run")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # DOCS INDEX | DOCS
    args = ap.parse_args()
    if args.worker:
        work = worker_build if len(args.worker) == 2 else worker_raw
        print(json.dumps(work(*args.worker)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        corpus = write_corpus(base / "corpus", args.docs)
        # raw encode runs before and after the pipeline: on a shared machine the speed drifts
        raws = [run_worker(base / "corpus")]
        build = run_worker(base / "corpus", base / "index")
        raws.append(run_worker(base / "corpus"))
        write_small_files(base / "small", args.small_files)
        run_worker(base / "small", base / "small-index")
        rerun = time_rerun(base / "small", base / "small-index")
    cps = build["chunks"] / build["pipeline_s"]
    runs = [r["raw_chunks"] / r["raw_s"] for r in raws]
    raw_cps = sum(runs) / len(runs)
    build.update(raw_runs_cps=runs, raw_load_s=raws[0]["load_s"],
                 raw_chunks=raws[0]["raw_chunks"])
    warm = build["chunks"] / (build["pipeline_s"] - build["phases"].get("model load", 0.0))
    result = {"corpus": corpus, "build": build, "rerun": rerun, "pipeline_cps": cps,
              "raw_cps": raw_cps, "ratio": cps / raw_cps, "ratio_warm": warm / raw_cps}
    print(json.dumps(result, indent=2) if args.json else report(result))


if __name__ == "__main__":
    main()
