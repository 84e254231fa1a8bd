"""Question latency with many clients at once (issue 20, item 13). Printed, never asserted.

    .venv/bin/python benchmarks/bench_concurrency.py [--clients 1 10 30] [--questions 5]

Starts `docchat serve` on the seed article (its own index and port on 127.0.0.1, defaults
otherwise: 2 questions computed at once, 64 waiting), warms it, then for each client count
runs that many clients at once, each asking ``--questions`` seed questions one after another
through POST /api/ask, and prints p50/p95 of the answered ones, how many got 503, and the
throughput. Compare the rows of one run (2 shared cores: absolute times move with the load).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How many people died in the attack?", "Who did Putin blame for the attack?",
             "Were the gunmen captured?", "Where is the Crocus City concert hall?",
             "How did the international community react?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 10, 30])
    ap.add_argument("--questions", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = open(Path(tmp) / "serve.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index",
                                 str(Path(tmp) / "index"), "--docs", str(Path(tmp) / "up"),
                                 "--port", str(port)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ,
                                                               "DOCCHAT_WATCH_SECONDS": "0"})
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/api/status", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("docchat serve did not start")
                time.sleep(0.5)
            for q in QUESTIONS:  # warm: models loaded, caches filled
                httpx.post(f"{base}/api/ask", json={"question": q}, timeout=300)
            print(f"{'clients':>7} {'asked':>6} {'503':>5} {'p50 s':>7} {'p95 s':>7} "
                  f"{'answers/s':>9}")
            for n in args.clients:
                def client(i: int) -> list[tuple[int, float]]:
                    out = []
                    with httpx.Client(timeout=600) as c:
                        for j in range(args.questions):
                            t = time.perf_counter()
                            r = c.post(f"{base}/api/ask",
                                       json={"question": QUESTIONS[(i + j) % len(QUESTIONS)]})
                            out.append((r.status_code, time.perf_counter() - t))
                    return out
                t0 = time.perf_counter()
                with ThreadPoolExecutor(n) as pool:
                    results = [r for rs in pool.map(client, range(n)) for r in rs]
                wall = time.perf_counter() - t0
                ok = [s for code, s in results if code == 200]
                busy = sum(1 for code, _ in results if code == 503)
                print(f"{n:>7} {len(results):>6} {busy:>5} {pct(ok, 50):>7.2f} "
                      f"{pct(ok, 95):>7.2f} {len(ok) / wall:>9.2f}")
            print(f"(median of all answered: {statistics.median(ok):.2f} s)" if ok else "")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
