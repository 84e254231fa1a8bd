"""Embedding throughput, local vs through an OpenAI-compatible server (printed, never asserted).

The same chunk-sized texts (SciFact abstracts, else generated text) are embedded by the packaged
MiniLM in this process, and by the same model behind tests/embed_server.py (FastAPI, started
on 127.0.0.1 on the same machine) through docchat's remote embedder, batch 32 both ways, each
warmed up before the clock starts. Both run on the same CPU cores, so the ratio measures what
the HTTP protocol costs (JSON floats, one request per batch), not what a GPU server gains.

    .venv/bin/python benchmarks/bench_embed.py [--texts 640] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SCIFACT = ROOT.parent / "shared" / "eval" / "beir_scifact" / "corpus.jsonl"
WORDS = ("river bridge council budget harbour vaccine orchard turbine museum railway storm "
         "festival manuscript canal winter copper village school market tunnel").split()
CHUNK_CHARS = 900  # about 200 MiniLM tokens of English: the default chunk size


def texts(n: int) -> list[str]:
    out: list[str] = []
    if SCIFACT.exists():
        with SCIFACT.open() as f:
            for line in f:
                doc = json.loads(line)
                out.append((doc.get("title", "") + ". " + doc.get("text", ""))[:CHUNK_CHARS])
                if len(out) == n:
                    return out
    import random

    rnd = random.Random(0)
    while len(out) < n:
        out.append(" ".join(rnd.choice(WORDS) for _ in range(150))[:CHUNK_CHARS])
    return out


def rate(embedder, items: list[str]) -> float:
    embedder.encode(items[:32], background=True)  # warm-up (model load, connection)
    t = time.perf_counter()
    embedder.encode(items, background=True)
    return len(items) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=640)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from embed_server import embed_server

    from rag.embedding.remote import RemoteEmbedder
    from rag.embedding.local import Embedder
    from rag.settings import DEFAULT_MODEL, Settings

    items = texts(a.texts)
    local = rate(Embedder.shared(DEFAULT_MODEL, 32), items)
    with embed_server() as url:
        remote = rate(RemoteEmbedder(Settings(embed_url=url, embed_batch=32)), items)
    row = {"texts": len(items), "local_per_s": round(local, 1), "remote_per_s": round(remote, 1),
           "remote_over_local": round(remote / local, 3), "load": os.getloadavg()[0]}
    if a.json:
        print(json.dumps(row))
        return
    print(f"embedding {row['texts']} chunk-sized texts, batch 32 (server on this machine):")
    print(f"  local model            {row['local_per_s']:8.1f} texts/s")
    print(f"  OpenAI server (HTTP)   {row['remote_per_s']:8.1f} texts/s "
          f"({row['remote_over_local']:.2f} of local)   load {row['load']:.2f}")


if __name__ == "__main__":
    main()
