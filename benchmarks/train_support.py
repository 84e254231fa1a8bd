"""Train the support checker: does this passage sentence state what this answer sentence says?

An LLM engine writes its own sentences; each must be supported by the passage it cites
(rag.answering.citations). The rule there (cosine + word overlap, numbers and quotes
verbatim) accepts 1.0% of same-topic wrong passages, but it cannot see a changed name,
a negation or a claim the passage does not make when the words mostly match. This model
reads (answer sentence, passage sentence) and says whether the second entails the first.

Same architecture as the reader (the packaged MiniLM, LoRA rank 16 on every linear layer,
its no-answer head read as "entailed"), started from the recorded stage 1 reader, trained on
the 34,000 Wikipedia entailment pairs of ../shared/eval/train/nli (*_train.tsv: entailment =
1; neutral and contradiction = 0), the hypothesis in the question's place. Held out: the
4,978 pairs of *_val.tsv (the README counts 5,901; these are the rows the files hold) (``measure``).

    PYTHONPATH=. nice .venv/bin/python benchmarks/train_support.py train    # resumable
    PYTHONPATH=. .venv/bin/python benchmarks/train_support.py measure [--install]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_reader as tr  # noqa: E402

OUT = tr.ROOT / "build" / "support"
NLI = tr.SHARED / "train" / "nli"
KINDS = ("base", "contrast", "edit_other", "edit_premise")
MAX_LEN = 128  # hypothesis (at most 64 tokens) + one premise sentence


def pairs(split: str) -> list[dict]:
    out = []
    for kind in KINDS:
        with (NLI / f"{kind}_{split}.tsv").open(encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if r["gold_label"] not in ("entailment", "neutral", "contradiction"):
                    continue
                out.append({"q": r["sentence2"].strip(), "c": r["sentence1"].strip(),
                            "s": -1, "e": -1, "y": float(r["gold_label"] == "entailment"),
                            "kind": f"{kind}_{r['gold_label']}"})
    return out


def examples(positives: int, seed: int = 3) -> list[dict]:
    out = pairs("train")
    random.Random(seed).shuffle(out)
    return out


def rule_scores(rows: list[dict]) -> np.ndarray:
    """Today's rule (rag.answering.citations.support) on each pair: the hypothesis checked
    against the premise as a one-passage hit."""
    from rag.answering.citations import support
    from rag.answering.evidence import build_evidence
    from rag.embedding.local import embedder_for
    from rag.settings import Settings
    from rag.types import Hit

    emb = embedder_for(Settings.from_env())
    out = []
    for r in rows:
        hit = Hit(1, "p", 1, 0, len(r["c"]), r["c"], 1.0)
        out.append(support(build_evidence(emb, r["q"], [hit]), r["q"])[0][0])
    return np.array(out)


def measure(args) -> None:
    from rag.answering.span_reader import SpanReader

    rows = pairs("val")
    info = json.loads((OUT / "train.json").read_text())
    meta = OUT / "reader.json"
    meta.write_text(json.dumps(info))
    model = SpanReader(OUT / "reader.safetensors", meta, backend="auto")
    t0 = time.perf_counter()
    raw = [model.read(r["q"], [r["c"]])[0] for r in rows]
    y = np.array([r["y"] for r in rows])
    # p from the no-answer logit and margin, fit on the training pairs' first 3,000
    fit_rows = examples(0)[:3000]
    fr = [model.read(r["q"], [r["c"]])[0] for r in fit_rows]
    from train_reader_record import fit_logistic

    w = fit_logistic(np.array([(x.margin, x.no_answer) for x in fr]),
                     np.array([r["y"] for r in fit_rows]))
    p = 1 / (1 + np.exp(-(np.array([(x.margin, x.no_answer) for x in raw]) @ w[:2] + w[2])))
    rule = rule_scores(rows)
    from rag.settings import Settings

    thr = Settings().support_threshold
    report = {"val_pairs": len(rows), "entailed": int(y.sum()), "weights": w,
              "seconds": round(time.perf_counter() - t0)}
    both = np.where(rule >= thr, p, 0.0)  # the rule's vetoes and threshold, then the model
    vetoed = np.where(rule > 0, p, 0.0)  # the rule's vetoes (a number, a quote, a negation
    # missing from the premise: score 0), then the model instead of its cosine + overlap
    for name, score, t in (("rule", rule, float(thr)), ("model", p, 0.5),
                           ("rule_then_model", both, 0.5), ("vetoes_then_model", vetoed, 0.5)):
        acc = float(np.mean((score >= t) == (y == 1)))
        fpr = float(np.mean(score[y == 0] >= t))
        tpr = float(np.mean(score[y == 1] >= t))
        auc = float(np.mean(score[y == 1][:, None] > score[y == 0][None, :]))
        report[name] = {"threshold": t, "accuracy": round(acc, 4), "auc": round(auc, 4),
                        "not_entailed_accepted": round(fpr, 4),
                        "entailed_accepted": round(tpr, 4)}
        for kind in KINDS:
            m = np.array([r["kind"].startswith(kind) for r in rows])
            report[name][kind] = {
                "not_entailed_accepted": round(float(np.mean(score[m & (y == 0)] >= t)), 4),
                "entailed_accepted": round(float(np.mean(score[m & (y == 1)] >= t)), 4)}
    print(json.dumps(report, indent=1))
    (OUT / "measure.json").write_text(json.dumps(report, indent=1))
    if args.install:
        info.update({
            "data": "../shared/eval/train/nli/*_train.tsv (34,000 Wikipedia entailment pairs: "
                    "entailment = 1, neutral and contradiction = 0), the hypothesis in the "
                    "question's place; started from the recorded stage 1 reader; held out: "
                    "*_val.tsv",
            "calibration": {"weights": w, "features": ["margin", "no_answer_logit", "bias"],
                            "fit_on": f"the first {len(fit_rows)} training pairs"},
            "threshold": 0.5, "held_out": report})
        models = tr.ROOT / "rag" / "answering" / "models"
        shutil.copyfile(OUT / "reader.safetensors", models / "support.safetensors")
        (models / "support.json").write_text(json.dumps(info, indent=1) + "\n")
        print("installed in", models)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--max-steps", type=int, default=1100)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--checkpoint-seconds", type=float, default=120)
    m = sub.add_parser("measure")
    m.add_argument("--install", action="store_true",
                   help="copy the weights and record into rag/answering/models/support.*")
    args = ap.parse_args()
    if args.cmd == "train":
        from rag.answering.span_reader import safe_stride

        tr.MAX_LEN, tr.STRIDE = MAX_LEN, safe_stride(MAX_LEN, tr.STRIDE)  # recorded as trained
        tr.examples_hard = lambda positives, skip: examples(positives)
        args.stage, args.positives = 4, 0
        args.start = tr.ROOT / "rag" / "answering" / "models" / "reader.safetensors"
        t0 = time.perf_counter()
        tr.train(args)
        print(f"{time.perf_counter() - t0:.0f} s")
    else:
        measure(args)


if __name__ == "__main__":
    main()
