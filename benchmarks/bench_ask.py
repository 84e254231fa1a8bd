"""Latency of `ask` with the extractive engine on the seed index, model warm. Printed only.

    .venv/bin/python benchmarks/bench_ask.py [--repeat 5] [--backends auto,torch] [--index DIR]
        [--checker 0.26,0]

``--index`` asks an existing index (e.g. the SciFact one `make eval` leaves in
data/eval/beir_scifact/index) the questions in ``--questions`` (one per line) instead of the seed's.

With several backends (DOCCHAT_EMBED_BACKEND values: the embedder and the span reader run
there) the same index is asked through each, round by round in turn, so the ratios hold on a
shared, noisy machine; ``--checker`` does the same for answer checker thresholds (0: off, the
answerability check instead), each backend with each. Also prints the span reader's own time for the top 1 and the top 5
passages (its cost per passage read).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag import Settings, ask
from rag.answering.span_reader import SpanReader
from rag.index import Index

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How many people died?", "Which earlier attacks in Russia are mentioned?",
             "Who did Putin blame for the attack?", "Were the gunmen captured?",
             "What is the boiling point of water?", "Where is the Crocus City concert hall?",
             "How did the international community react?", "What group is linked to ISIS-K?"]


def pct(ms: list[float], p: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, max(0, int(round(p * len(ms))) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backends", default="auto,torch",
                    help="comma-separated DOCCHAT_EMBED_BACKEND values, asked in turn")
    ap.add_argument("--index", help="an existing index to ask (default: the seed, built here)")
    ap.add_argument("--questions", help="a file of questions, one per line (with --index)")
    ap.add_argument("--checker", default="",
                    help="comma-separated DOCCHAT_CHECKER_THRESHOLD values (default: the setting)")
    args = ap.parse_args()
    checks = [float(c) for c in args.checker.split(",")] if args.checker else [None]
    variants = [(b, c) for b in args.backends.split(",") for c in checks]
    backends = [f"{b}" if c is None else f"{b}, checker {c:g}" for b, c in variants]
    questions = QUESTIONS
    if args.questions:
        questions = [q.strip() for q in Path(args.questions).read_text().splitlines()
                     if q.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        if args.index:
            tmp = args.index
        else:
            built = Index.open(tmp, Settings.from_env(index_dir=tmp,
                                                      embed_backend=variants[0][0]), create=True)
            built.update([ROOT / "seeds"])
        print(f"index: {tmp}, {Index.open(tmp, Settings.from_env(index_dir=tmp)).status().chunks:,}"
              f" chunks; {len(questions)} questions, {args.repeat} rounds")
        idx = {}
        for name, (b, c) in zip(backends, variants):
            s = Settings.from_env(index_dir=tmp, embed_backend=b)
            idx[name] = Index.open(tmp, s if c is None else s.replace(checker_threshold=c))
        warm, cold = {}, {b: [] for b in backends}
        for b in backends:
            t = time.perf_counter()
            ask(idx[b], "warm up the model")
            warm[b] = time.perf_counter() - t
            for q in questions:
                t = time.perf_counter()
                ask(idx[b], q)
                cold[b].append((time.perf_counter() - t) * 1000)
        times = {b: [] for b in backends}
        for _ in range(args.repeat):
            for b in backends:
                for q in questions:
                    t = time.perf_counter()
                    ask(idx[b], q)
                    times[b].append((time.perf_counter() - t) * 1000)
        passages = [h.text for h in idx[backends[0]].search(questions[0], 5)]
        top = len(passages)  # 5, or fewer on a small index
        reads = {b: {1: [], top: []} for b in backends}
        for _ in range(args.repeat):
            for b in backends:
                reader = SpanReader.shared(idx[b].settings)
                for k in (1, top):
                    for q in questions:
                        t = time.perf_counter()
                        reader.read(q, passages[:k])
                        reads[b][k].append((time.perf_counter() - t) * 1000)
    for b in backends:
        ms = times[b]
        print(f"[{b}] first ask (loads the models): {warm[b]:.2f} s; first time each question: "
              f"median {statistics.median(cold[b]):.1f} ms")
        print(f"[{b}] repeated asks: n={len(ms)} median {statistics.median(ms):.1f} ms, "
              f"p90 {pct(ms, 0.9):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms "
              f"(goal: median < 150 ms)")
        r1, rk = (statistics.median(reads[b][k]) for k in (1, top))
        print(f"[{b}] span reader: top 1 passage {r1:.1f} ms, top {top} {rk:.1f} ms "
              f"({(rk - r1) / max(top - 1, 1):.1f} ms per further passage)")
    if len(backends) > 1:
        base = statistics.median(times[backends[-1]])
        for b in backends[:-1]:
            print(f"median ask {b} / {backends[-1]}: {statistics.median(times[b]) / base:.2f}")


if __name__ == "__main__":
    main()
