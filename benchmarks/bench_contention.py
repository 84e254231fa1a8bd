"""Question latency while an upload is being embedded (issue 10 item 3). Printed only.

    .venv/bin/python benchmarks/bench_contention.py [--docs 900] [--questions 40]

Builds the seed index, times `ask` (extractive, model warm) with nothing else running, then
starts indexing about 2,000 chunks of SciFact abstracts (from ../shared/eval) in a background
thread of the same process -- as an upload from the page does -- and times the same questions
while it embeds. Prints p50/p95 of both and how far the upload got.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from rag import Settings, ask
from rag.index import Index

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "beir_scifact" / "corpus.jsonl"
QUESTIONS = ["How many people died?", "Who did Putin blame for the attack?",
             "Were the gunmen captured?", "Where is the Crocus City concert hall?",
             "How did the international community react?"]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def timed(idx: Index, n: int, pause: float, stop: threading.Event | None = None) -> list[float]:
    out = []
    for i in range(n):
        if stop is not None and stop.is_set():
            break
        t = time.perf_counter()
        ask(idx, QUESTIONS[i % len(QUESTIONS)])
        out.append(time.perf_counter() - t)
        time.sleep(pause)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=900, help="SciFact abstracts to upload")
    ap.add_argument("--questions", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = tmp / "upload"
        docs.mkdir()
        with open(SCIFACT, encoding="utf-8") as f:
            for i, line in zip(range(args.docs), f):
                d = json.loads(line)
                (docs / f"{d['_id']}.txt").write_text(d["title"] + "\n\n" + d["text"])
        idx = Index.open(tmp / "idx", Settings.from_env(index_dir=str(tmp / "idx")), create=True)
        idx.update([ROOT / "seeds"])
        ask(idx, "warm up the model")
        idle = timed(idx, args.questions, 0.1)
        result: dict = {}
        done = threading.Event()

        def upload() -> None:
            t = time.perf_counter()
            s = idx.update([docs], add=True)
            result.update(chunks=s.chunks, embedded=s.embedded,
                          seconds=time.perf_counter() - t)
            done.set()

        th = threading.Thread(target=upload)
        th.start()
        time.sleep(5)  # past reading and chunking, into the embedding
        busy = timed(idx, args.questions, 0.5, stop=done)
        during = len(busy)
        th.join()
    print(f"idle:          {len(idle)} questions  p50 {statistics.median(idle):.3f} s  "
          f"p95 {pct(idle, 0.95):.3f} s")
    print(f"during upload: {during} questions  p50 {statistics.median(busy):.3f} s  "
          f"p95 {pct(busy, 0.95):.3f} s  (upload: {result['embedded']} chunks embedded in "
          f"{result['seconds']:.1f} s, {during} questions asked while it ran)"
          if busy else "during upload: the upload finished before any question was asked")


if __name__ == "__main__":
    main()
