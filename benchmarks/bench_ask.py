"""Latency of `ask` with the extractive engine on the seed index, model warm. Printed only.

    .venv/bin/python benchmarks/bench_ask.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag import Settings, ask
from rag.index import Index

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How many people died?", "Which earlier attacks in Russia are mentioned?",
             "Who did Putin blame for the attack?", "Were the gunmen captured?",
             "What is the boiling point of water?", "Where is the Crocus City concert hall?",
             "How did the international community react?", "What group is linked to ISIS-K?"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        idx = Index.open(tmp, Settings.from_env(index_dir=tmp), create=True)
        idx.update([ROOT / "seeds"])
        t = time.perf_counter()
        ask(idx, "warm up the model")
        warm = time.perf_counter() - t
        cold, times = {}, []
        for q in QUESTIONS:
            t = time.perf_counter()
            ask(idx, q)
            cold[q] = time.perf_counter() - t
        for _ in range(args.repeat):
            for q in QUESTIONS:
                t = time.perf_counter()
                ask(idx, q)
                times.append(time.perf_counter() - t)
    ms = sorted(x * 1000 for x in times)
    print(f"first ask after indexing (model already loaded by the build): {warm:.2f} s")
    print(f"first time each question (warm model, new sentences): "
          f"median {statistics.median(cold.values()) * 1000:.1f} ms")
    print(f"repeated asks: n={len(ms)} median {statistics.median(ms):.1f} ms, "
          f"p90 {ms[int(0.9 * len(ms)) - 1]:.1f} ms, max {ms[-1]:.1f} ms (goal: median < 150 ms)")


if __name__ == "__main__":
    main()
