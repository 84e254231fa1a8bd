"""The local encoder against the machine's arithmetic peak: torch fp32, ONNX Runtime fp32 and
ONNX Runtime int8 side by side (printed, never asserted; issue 23).

The same SciFact chunk-sized texts (bench_embed.py's: title + abstract, 900 characters, about
200 tokens) are embedded by each backend in a fresh process, as indexing does (the product's
Embedder, background calls, its batches), after a warm-up batch. FLOP are counted from the
model's shapes and the token counts of each batch as it ran (its padded length included,
since the padding is computed too; torch's read from each batch's attention mask): per token 2 x layers x (4 h^2 + 2 h ffn) for the linear
layers, plus 4 x layers x h x length for the attention's two products. The share is of the
machine's fp32 peak (--peak; by default estimated from /proc/cpuinfo: cores x 2 FMA units x
fp32 lanes (16 with AVX-512, 8 with AVX2) x 2 x the listed clock; the machine class the issue
names, 2 cores, AVX2, 2.45 GHz, gives 157 GFLOP/s, while a 2-core AVX-512 host at 2.6 GHz gives
333; a CPU that splits AVX-512 into two 256-bit halves (AMD Zen 4) has half that, so the
estimate is an upper bound); int8 is counted as the fp32 arithmetic it replaces.

Per backend also: one short question encoded alone (the question path, foreground), p50/p95
of 50; start-up, a new process from its start to its first vector (median of 3, the export
already cached); agreement with torch (cosine over all the texts). `uptime` is printed beside.

    .venv/bin/python benchmarks/bench_encoder.py [--texts 2000] [--batch 32] [--threads 0]
        [--sweep]   (also ORT fp32 / int8 at 1 and 2 threads, batch 16 / 32 / 64)
    .venv/bin/python benchmarks/bench_encoder.py --int8-study   (which layers int8 keeps 0.99)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
BACKENDS = ("torch", "onnx", "onnx-int8")
PEAK_GFLOPS = 157.0  # the machine class: 2 cores x 2 FMA x 8 lanes x 2 x 2.45 GHz


def estimated_peak() -> float:
    """fp32 GFLOP/s from /proc/cpuinfo (see the module doc); PEAK_GFLOPS when unreadable."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return PEAK_GFLOPS
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines()
                  if ln.startswith("flags")), [])
    mhz = [float(ln.split(":", 1)[1]) for ln in info.splitlines() if ln.startswith("cpu MHz")]
    if not flags or not mhz:
        return PEAK_GFLOPS
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fma = 2 if "fma" in flags else 1
    return round((os.cpu_count() or 1) * 2 * lanes * fma * statistics.median(mhz) / 1000, 1)
QUESTION = "What causes a river to flood in spring?"
STARTUP = """
import time, sys
t0 = float(sys.argv[1])
from rag.embedding.local import embedder_for
from rag.settings import Settings
embedder_for(Settings.from_env()).encode([{q!r}])
print(time.time() - t0)
"""


def flops(config: dict, padded_tokens: int, attention_units: int) -> float:
    h, layers, ffn = config["hidden_size"], config["num_hidden_layers"], \
        config["intermediate_size"]
    per_token = 2 * layers * (4 * h * h + 2 * h * ffn)
    return per_token * padded_tokens + 4 * layers * h * attention_units


def worker(backend: str, n: int, batch: int, threads: int, out: Path) -> dict:
    from bench_embed import texts

    from rag.embedding.local import Embedder
    from rag.embedding.model_files import model_dir
    from rag.settings import DEFAULT_MODEL

    items = texts(n)
    emb = Embedder(DEFAULT_MODEL, batch, backend, threads)
    t = time.perf_counter()
    emb.warm_up()
    emb.encode(items[:batch], background=True)  # load the indexing copy, warm it
    load_s = time.perf_counter() - t
    counted = counting(emb._load(True))
    t = time.perf_counter()
    vecs = emb.encode(items, background=True)
    seconds = time.perf_counter() - t
    c = counted()
    np.save(out, vecs)
    config = json.loads((model_dir(DEFAULT_MODEL) / "config.json").read_text())
    work = flops(config, c.padded_tokens, c.attention_units)
    useful = flops(config, c.real_tokens, 0)  # no padding, no attention: the lower bound
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        emb.encode([QUESTION])
        lat.append((time.perf_counter() - t) * 1000)
    if backend == "torch":
        import torch

        threads = torch.get_num_threads()
    return {"backend": backend, "batch": batch, "threads": threads or os.cpu_count(),
            "texts": len(items), "seconds": round(seconds, 2),
            "chunks_per_s": round(len(items) / seconds, 1),
            "gflops": round(work / seconds / 1e9, 1), "real_tokens": c.real_tokens,
            "padded_tokens": c.padded_tokens, "useful_gflops": round(useful / seconds / 1e9, 1),
            "query_p50_ms": round(float(np.percentile(lat, 50)), 1),
            "query_p95_ms": round(float(np.percentile(lat, 95)), 1),
            "load_s": round(load_s, 2)}


def counting(model):
    """A function giving the token counts of the batches ``model`` runs from now on: the ONNX
    model keeps them itself; for torch a hook on the transformer reads each batch's mask."""
    from rag.embedding.onnx_model import Counters

    if hasattr(model, "counters"):
        model.counters = Counters()
        return lambda: model.counters
    counts = Counters()

    bert = model[0].auto_model
    forward = bert.forward  # sentence-transformers calls forward itself: no module hooks

    def counted_forward(*args, **kwargs):
        mask = kwargs["attention_mask"]
        counts.add(int(mask.shape[0]), int(mask.shape[1]), int(mask.sum()))
        return forward(*args, **kwargs)

    bert.forward = counted_forward
    return lambda: counts


def run_worker(backend: str, n: int, batch: int, threads: int, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", backend, "--texts", str(n),
                           "--batch", str(batch), "--threads", str(threads), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def startup(backend: str, threads: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCCHAT_")}
    env.update(DOCCHAT_EMBED_BACKEND=backend, DOCCHAT_EMBED_THREADS=str(threads))
    runs = []
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", STARTUP.format(q=QUESTION),
                               repr(time.time())], capture_output=True, text=True, env=env,
                              cwd=ROOT)
        if proc.returncode:
            raise SystemExit(f"start-up of {backend} failed:\n{proc.stderr[-2000:]}")
        runs.append(float(proc.stdout.strip().splitlines()[-1]))
    return round(statistics.median(runs), 2)


VARIED = ["Hi", "ok", "hello", "Was ist das?", "Ein kurzer deutscher Satz über Brücken.",
          "¿Dónde está la biblioteca?", "Привет, как дела?", "北京是中国的首都。",
          "日本語の文章です。", "SELECT * FROM users WHERE id = 42;",
          "def f(x):\n    return x**2", "3.14159", "1 2 3 4.5 6e10 %", "2024-05-01 12:00 UTC",
          "The quick brown fox.", "What causes the river to flood?"]
#: int8 choices compared by --int8-study (substrings of the exported MatMuls' names)
INT8_CHOICES = {
    "all linear layers": ("attention/self/", "attention/output/dense/", "intermediate/dense/",
                          "/output/dense/"),
    "all but the feed-forward output": ("attention/self/", "attention/output/dense/",
                                        "intermediate/dense/"),
    "query, key, intermediate": ("self/query/", "self/key/", "intermediate/dense/"),
    "query, key, value, attention output": None,  # the shipped INT8_LINEARS
}


def gate_texts() -> list[str]:
    """The int8 cosine gate's 56 texts: 40 SciFact texts (every 97th document) and VARIED."""
    from bench_embed import SCIFACT

    items = []
    with SCIFACT.open() as f:
        for i, line in enumerate(f):
            if i % 97 == 0:
                d = json.loads(line)
                items.append((d["title"] + ". " + d["text"])[:900])
            if len(items) == 40:
                break
    return items + VARIED


def int8_study(threads: int) -> list[dict]:
    """Cosine of int8 to fp32 vectors (min / p1 / median) on 40 SciFact texts and 16 short or
    non-English ones, for each choice of layers quantised (docs/embeddings.md's table), and
    each choice's speed against fp32 (texts/s encoding 256 SciFact chunk-sized texts, batch
    32, the best of two rounds, every choice in turn in each round)."""
    from bench_embed import texts

    from rag.embedding import onnx_export
    from rag.embedding.model_files import model_dir
    from rag.embedding.onnx_model import OnnxModel
    from rag.settings import DEFAULT_MODEL, Settings

    items = gate_texts()
    timed = texts(256)
    src = model_dir(DEFAULT_MODEL)
    fp32 = onnx_export.ensure(src, "fp32", onnx_export.cache_root(
        Settings.from_env().embed_onnx_dir))
    ref = OnnxModel(fp32, src, threads).encode(items, batch_size=16)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = {"none (fp32)": OnnxModel(fp32, src, threads)}
        for k, (name, linears) in enumerate(INT8_CHOICES.items()):
            dest = Path(tmp) / f"int8-{k}.onnx"
            nodes = onnx_export.quantize_int8(fp32, dest, linears or onnx_export.INT8_LINEARS)
            models[name] = OnnxModel(dest, src, threads)
            cos = (models[name].encode(items, batch_size=16) * ref).sum(axis=1)
            rows.append({"layers": name, "matmuls": len(nodes), "min": round(float(cos.min()), 4),
                         "p1": round(float(np.percentile(cos, 1)), 4),
                         "median": round(float(np.median(cos)), 4)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        rows.insert(0, {"layers": "none (fp32)", "matmuls": 0, "min": 1.0, "p1": 1.0,
                        "median": 1.0})
        best = {name: 0.0 for name in models}
        for _ in range(2):
            for name, m in models.items():
                t0 = time.perf_counter()
                m.encode(timed, batch_size=32)
                best[name] = max(best[name], len(timed) / (time.perf_counter() - t0))
        for r in rows:
            r["texts_per_s"] = round(best[r["layers"]], 1)
            r["speed_vs_fp32"] = round(best[r["layers"]] / best["none (fp32)"], 2)
    return rows


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average %.2f %.2f %.2f" % os.getloadavg()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=0, help="0: the product's (DOCCHAT_EMBED_BATCH)")
    ap.add_argument("--threads", type=int, default=0, help="ONNX threads; 0: the product's")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--peak", type=float, default=None,
                    help="fp32 GFLOP/s of the machine (default: estimated from /proc/cpuinfo)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--sweep-texts", type=int, default=256)
    ap.add_argument("--int8-study", action="store_true",
                    help="only compare int8 choices of layers (cosine to fp32)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", choices=BACKENDS)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.peak is None:
        a.peak = estimated_peak()
    if a.worker:
        print(json.dumps(worker(a.worker, a.texts, a.batch, a.threads, Path(a.out))))
        return
    if a.int8_study:
        rows = int8_study(a.threads)
        print(f"uptime: {uptime()}")
        print("| int8 layers | MatMuls | min | p1 | median | texts/s | vs fp32 |\n"
              "|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['layers']} | {r['matmuls']} | {r['min']} | {r['p1']} | {r['median']} "
                  f"| {r['texts_per_s']} | {r['speed_vs_fp32']} |")
        return
    from rag.settings import Settings

    s = Settings.from_env()
    batch, threads = a.batch or s.embed_batch, a.threads or s.embed_threads
    subprocess.run([sys.executable, "-m", "rag.embedding.onnx_export"], check=True, cwd=ROOT,
                   capture_output=True)  # the export, cached: not part of any figure
    before = uptime()
    rows, vecs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in a.backends:
            out = Path(tmp) / f"{backend}.npy"
            row = run_worker(backend, a.texts, batch, threads, out)
            row["startup_s"] = startup(backend, threads)
            row["peak_share"] = round(row["gflops"] / a.peak, 3)
            vecs[backend] = np.load(out)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        sweep = []
        if a.sweep:
            for backend in ("onnx", "onnx-int8"):
                for t in (1, 2):
                    for b in (16, 32, 64):
                        r = run_worker(backend, a.sweep_texts, b, t, Path(tmp) / "sweep.npy")
                        sweep.append({k: r[k] for k in ("backend", "threads", "batch",
                                                        "chunks_per_s", "gflops")})
                        print(json.dumps(sweep[-1]), file=sys.stderr, flush=True)
    after = uptime()
    agree = {}
    ref = vecs.get("torch")
    for backend, v in vecs.items():
        if ref is not None and backend != "torch":
            cos = (v * ref).sum(axis=1)
            agree[backend] = {"min": round(float(cos.min()), 5),
                              "p1": round(float(np.percentile(cos, 1)), 5),
                              "median": round(float(np.median(cos)), 5),
                              "max_distance": float(1 - cos.min())}
    if a.json:
        print(json.dumps({"rows": rows, "agreement_with_torch": agree, "sweep": sweep,
                          "uptime_before": before, "uptime_after": after}, indent=1))
        return
    print(f"uptime before: {before}")
    print(f"{a.texts} SciFact chunk-sized texts, batch {batch}, peak {a.peak:g} GFLOP/s fp32")
    cols = ["backend", "threads", "chunks_per_s", "gflops", "peak_share", "useful_gflops",
            "query_p50_ms", "query_p95_ms", "startup_s", "load_s"]
    print("| " + " | ".join(cols) + " | cosine to torch (min / p1 / median) |")
    print("|" + "---|" * (len(cols) + 1))
    for r in rows:
        g = agree.get(r["backend"])
        cos = f"{g['min']} / {g['p1']} / {g['median']}" if g else "-"
        print("| " + " | ".join(str(r[c]) for c in cols) + f" | {cos} |")
    pad = rows[0]["padded_tokens"] / max(rows[0]["real_tokens"], 1) if rows else 1
    print(f"padding: {rows[0]['padded_tokens'] if rows else 0} tokens computed for "
          f"{rows[0]['real_tokens'] if rows else 0} real ({pad:.3f}x) with {rows[0]['backend']}"
          if rows else "")
    for r in rows[1:]:
        print(f"padding with {r['backend']}: {r['padded_tokens'] / max(r['real_tokens'], 1):.3f}x")
    if sweep:
        print("| backend | threads | batch | chunks_per_s | gflops |\n|---|---|---|---|---|")
        for r in sweep:
            print(f"| {r['backend']} | {r['threads']} | {r['batch']} | {r['chunks_per_s']} | "
                  f"{r['gflops']} |")
    print(f"uptime after: {after}")


if __name__ == "__main__":
    main()
