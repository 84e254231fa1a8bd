"""``train_reader.py record``: calibrate the trained reader and record it.

Everything here is chosen on data the held-out half never sees:
1. **Probability.** p = sigmoid(w0 * margin + w1 * no_answer_logit + w2), fit (log loss) on
   the calibration articles (SQuAD 2.0 dev articles 2, 6, 10, 14), each question read against
   its own paragraph: answerable = 1; unanswerable and "answer sentence removed" = 0.
2. **Thresholds, through the product's own steps.** For the calibration questions and 300
   off-topic questions (SQuAD 1.1 train questions, whose articles are not in the index), the
   retrieval, evidence and reader are run as ``rag.answer`` runs them over the eval index of
   the whole dev file. A pair (evidence threshold e, reader threshold t) is chosen: the most
   unanswerable calibration questions abstained, with at most --max-answerable-abstain of
   the answerable ones, none of the paraphrase set's seed questions and at most 5% of that
   set (tests/data/paraphrase_questions.jsonl) abstained. The off-topic share is recorded.
The held-out figures come from ``docchat eval qa --articles odd`` afterwards (docs/quality.md).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import time

import numpy as np

from train_reader import CAL_DEV, ROOT, SHARED, out_dir, without_answer_sentence

MODELS = ROOT / "rag" / "answering" / "models"
PARAPHRASE_MAX = 0.05


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 3000) -> list[float]:
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y)) / len(y)
        b -= 0.5 * float(np.mean(p - y))
    raw = w / sd
    return [round(float(v), 6) for v in raw] + [round(float(b - (w * mu / sd).sum()), 6)]


def cal_rows(dev: list[dict]) -> list[dict]:
    out = []
    for i in CAL_DEV:
        for p in dev[i]["paragraphs"]:
            for q in p["qas"]:
                a = q["answers"][0] if q["answers"] else None
                out.append({"q": q["question"], "c": p["context"], "imp": q["is_impossible"],
                            "golds": [x["text"] for x in q["answers"]],
                            "s": a["answer_start"] if a else -1,
                            "e": a["answer_start"] + len(a["text"]) if a else -1})
    return out


def record(args) -> None:
    from rag.answering import span_reader
    from rag.answering.evidence import build_evidence
    from rag.evaluation.runs import eval_index, load_squad
    from rag.settings import Settings

    os.chdir(ROOT)  # the eval index lives in data/eval/ as for `docchat eval qa`
    OUT = out_dir(args.stage)  # noqa: N806
    info = json.loads((OUT / "train.json").read_text(encoding="utf-8"))
    info["data"] = ("SQuAD 1.1 train (../shared/eval/train/squad11-train.json) sampled, with "
                    "negatives made from it (another paragraph of the article without the "
                    "answer; the answer's sentence removed), the 348 real unanswerable "
                    "questions of SQuAD 2.0 train's first 10 articles (x3), and SQuAD 2.0 dev "
                    "articles 0, 4, 8, 12; calibration on dev articles 2, 6, 10, 14; odd dev "
                    "articles held out")
    if args.stage == 2:
        info["data"] += ("; stage 2 continued those weights on 9,000 SQuAD 1.1 train questions "
                         "stage 1 never saw, unanswerable twins of them made by perturbing the "
                         "question (benchmarks/reader_negatives.py: number, entity, antonym, "
                         "negation), answer-removed paragraphs and the real unanswerables "
                         "(dev quarter x2)")
    meta = OUT / "reader.json"
    meta.write_text(json.dumps(info, indent=1), encoding="utf-8")
    reader = span_reader.SpanReader(OUT / "reader.safetensors", meta)
    dev = json.loads((SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    rows = cal_rows(dev)
    if args.limit:
        rows = random.Random(0).sample(rows, args.limit)
    removed = [{"q": r["q"], "c": c, "imp": True} for r in rows if not r["imp"]
               for c in [without_answer_sentence(r["c"], r["s"], r["e"], r["golds"])] if c]
    t0 = time.perf_counter()
    fit_file = OUT / "fit.json"
    if fit_file.exists():  # this run's fit, from an earlier record of the same weights
        w = json.loads(fit_file.read_text())
    else:
        feats, labels = [], []
        for r in rows + removed:
            x = reader.read(r["q"], [r["c"]])[0]
            feats.append((x.margin, x.no_answer))
            labels.append(0.0 if r["imp"] else 1.0)
        w = fit_logistic(np.array(feats), np.array(labels))
        fit_file.write_text(json.dumps(w))
    reader.weights = tuple(w)
    info["calibration"] = {"weights": w, "features": ["margin", "no_answer_logit", "bias"],
                           "fit_on": f"{len(rows)} calibration questions on their own paragraph"
                                     f" + {len(removed)} with the answer's sentence removed"}
    print(f"paragraph-level fit {w} in {time.perf_counter() - t0:.0f} s", flush=True)

    settings = Settings.from_env()
    paragraphs, _ = load_squad(SHARED / "squad2" / "dev-v2.0.json")
    idx, _ = eval_index("squad2", paragraphs.items(), settings.replace(reader_threshold=0.0))
    sq = json.loads((SHARED / "train" / "squad11-train.json").read_text(encoding="utf-8"))["data"]
    rnd = random.Random(1)
    off = [q["question"] for a in rnd.sample(sq, 60) for p in a["paragraphs"][:1]
           for q in p["qas"][:5]][:300]

    def product(question: str, index=idx) -> tuple[float, bool, float]:
        """What rag.answer decides on: evidence, the paraphrase rule, the reader's best."""
        hits = index.search(question, settings.top_k)
        ev = build_evidence(index.embedder(), question, hits)
        close = max((h.dense for h in hits), default=0.0) >= settings.paraphrase_dense
        best = max((r.probability for r in reader.read(question, [h.text for h in hits])),
                   default=0.0)
        return ev.best, close, best

    from paraphrase_set import SEED_FILE, paraphrase_index

    runs_file = OUT / "product.json"
    if runs_file.exists():
        runs = json.loads(runs_file.read_text())
    else:
        cal_rows_ = rows if not args.product_limit else \
            random.Random(2).sample(rows, min(args.product_limit, len(rows)))
        runs = {"cal": [(product(r["q"]), r["imp"]) for r in cal_rows_],
                "off": [product(q) for q in off]}
        pidx, prows = paraphrase_index(OUT / "paraphrase", settings)
        runs["para"] = [(product(r["question"], pidx), r["file"] == SEED_FILE) for r in prows]
        runs_file.write_text(json.dumps(runs))
    cal = [(tuple(v), imp) for v, imp in runs["cal"]]
    offs = [tuple(v) for v in runs["off"]]
    paras = [(tuple(v), seed) for v, seed in runs["para"]]
    print(f"product-level runs done in {time.perf_counter() - t0:.0f} s", flush=True)

    def abstains(v, e, t):
        score, close, best = v
        return (score < e and not close) or best < t

    grid = []
    for e in (settings.abstain_threshold,):  # lower ones turned away no fewer answerable
        for t in np.round(np.arange(0.01, 0.96, 0.005), 3):
            ans = np.mean([abstains(v, e, t) for v, imp in cal if not imp])
            un = np.mean([abstains(v, e, t) for v, imp in cal if imp])
            of = np.mean([abstains(v, e, t) for v in offs])
            pa = [abstains(v, e, t) for v, _ in paras]
            ps = sum(a for a, (_, seed) in zip(pa, paras) if seed)
            grid.append((float(e), float(t), float(ans), float(un), float(of),
                         float(np.mean(pa)), int(ps)))
    ok = [g for g in grid if g[2] <= args.max_answerable_abstain
          and g[4] >= args.min_offtopic_abstain and g[6] == 0]
    strict = [g for g in ok if g[5] <= PARAPHRASE_MAX]
    # the paraphrase set's 5% when some pair meets it; else the fewest paraphrase abstentions
    pool = strict or sorted(ok, key=lambda g: g[5])[:max(1, len(ok) // 10)]
    pool.sort(key=lambda g: (-g[3], -g[0]))
    if not pool:
        raise SystemExit("no threshold pair meets the answerable, off-topic and seed rules")
    e, t, ans, un, of, pabs, _ = pool[0]
    para_info = {"questions": len(paras), "abstained": round(pabs, 4), "seed_abstained": 0,
                 "within_5_percent": bool(strict)}
    print("frontier (e, t, answerable, unanswerable, offtopic, paraphrase):")
    for g in sorted(ok, key=lambda g: -g[3])[:12]:
        print("  ", g)
    info["threshold"] = t
    info["abstain_threshold"] = e
    info["rule"] = (f"the (evidence, reader) threshold pair turning away the most calibration "
                    f"unanswerable questions with at most {args.max_answerable_abstain:.0%} of "
                    f"the answerable ones and at least {args.min_offtopic_abstain:.0%} of 300 "
                    f"off-topic questions, through retrieval as the product runs it; then at "
                    f"most {PARAPHRASE_MAX:.0%} of the paraphrase set and none of its seed "
                    f"questions")
    info["calibration"].update({"questions": len(cal), "offtopic": len(offs),
                                "at_threshold": {"answerable_abstained": round(ans, 4),
                                                 "unanswerable_abstained": round(un, 4),
                                                 "offtopic_abstained": round(of, 4)},
                                "paraphrase": para_info})
    meta.write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(json.dumps({k: info[k] for k in ("threshold", "abstain_threshold", "calibration")},
                     indent=1))
    if args.write:
        shutil.copyfile(OUT / "reader.safetensors", MODELS / "reader.safetensors")
        shutil.copyfile(meta, MODELS / "reader.json")
        print(f"recorded in {MODELS}; set Settings.reader_threshold = {t} and "
              f"abstain_threshold = {e}")
