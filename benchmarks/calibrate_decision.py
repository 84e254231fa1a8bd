"""One abstention decision, fitted jointly (issue 18 item 3), on calibration data only.

The product used to stack three checks chosen one at a time: the evidence threshold, the span
reader's threshold, then the answerability model on the draft. Each was tuned with the
others fixed, so a stronger reader could make the answerability check idle (stage 2: its
share fell from 20% to 1.3%, docs/quality.md). Here the signals the product computes for a
question are collected through its own code (retrieval, evidence, the reader over every
retrieved passage, the extractive draft, verification, the answerability model), and one
logistic model over them says "answer" or "abstain".

    python benchmarks/calibrate_decision.py collect --reader build/reader   # or the shipped one
    python benchmarks/calibrate_decision.py fit --tag stage2 [--features margin,answerability]

Data: SQuAD 2.0 dev calibration articles (2, 6, 10, 14) through retrieval over the whole dev
file's index, 300 off-topic questions (SQuAD 1.1 train, not in the index) and the paraphrase
set (tests/data/paraphrase_questions.jsonl). The features and the threshold are chosen by
4-fold cross-validation by article on the calibration articles (no odd article is read);
the rule: the most unanswerable questions abstained with at most --max-answerable of the
answerable ones, none of the paraphrase set's seed questions and at most 5% of that set.
The held-out figures come from ``docchat eval qa --articles odd`` afterwards.

Result (session 9, docs/quality.md "One joint abstention decision"): not shipped. The best
cross-validated decision (stage 2 reader, margin + answerability) turned away 9.7% of the
held-out unanswerable questions against the shipped stacked rule's 20.7%; the signals separate
weakly (on calibration, 10% of answerable abstained buys about 30% of unanswerable).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_reader import CAL_DEV, ROOT, SHARED  # noqa: E402
from train_reader_record import fit_logistic  # noqa: E402

OUT = ROOT / "build" / "decision"
MODELS = ROOT / "rag" / "answering" / "models"
#: Signals collected per question.
SIGNALS = ("evidence", "dense", "reader", "margin", "no_answer", "answerability", "drafted")


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def collect(args) -> None:
    from rag.answering import span_reader
    from rag.answering.answerability import judge
    from rag.answering.citations import verify
    from rag.answering.evidence import build_evidence
    from rag.engines.extractive import ExtractiveEngine
    from rag.settings import Settings

    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    weights = Path(args.reader)
    reader = span_reader.SpanReader(weights / "reader.safetensors", weights / "reader.json")
    settings = Settings.from_env().replace(abstain_threshold=0.0)
    eng = ExtractiveEngine(settings)
    tag = args.tag or weights.name

    def signals(question: str, index) -> dict:
        hits = index.search(question, settings.top_k)
        ev = build_evidence(index.embedder(), question, hits)
        readings = tuple(reader.read(question, [h.text for h in hits])) if hits else ()
        from dataclasses import replace
        ev = replace(ev, readings=readings)
        draft = "".join(eng.draft(question, ev)).strip()
        verified = verify(ev, draft, settings.support_threshold) if draft else []
        pa = judge(ev.encode, question, [(v.text, v.cited, v.supported) for v in verified],
                   hits, ev.best).probability if verified else 0.0
        top = max(readings, key=lambda r: r.probability) if readings else None
        return {"evidence": ev.best, "dense": max((h.dense for h in hits), default=0.0),
                "reader": top.probability if top else 0.0,
                "margin": top.margin if top else -20.0,
                "no_answer": top.no_answer if top else -20.0,
                "answerability": pa, "drafted": float(bool(verified)),
                "answer": " ".join(v.text for v in verified)}

    items = [(key, q, index, {**meta, "golds": golds})
             for key, q, golds, index, meta in calibration_items(settings, args.limit,
                                                                  OUT / "paraphrase")]
    out = OUT / f"signals-{tag}.jsonl"
    done = set()
    if out.exists():
        done = {json.loads(line)["key"] for line in out.read_text().splitlines()}
    t0 = time.perf_counter()
    with out.open("a", encoding="utf-8") as f:
        for n, (key, q, index, meta) in enumerate(items):
            if key in done:
                continue
            row = {"key": key, "q": q, **meta, **signals(q, index)}
            f.write(json.dumps(row) + "\n")
            if n % 100 == 0:
                f.flush()
                print(f"{n}/{len(items)} {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"collected {len(items)} in {time.perf_counter() - t0:.0f} s -> {out}")


def calibration_items(settings, limit: int, folder: Path) -> list[tuple]:
    """(key, question, gold answers, index, facts) for every calibration question (SQuAD 2.0
    dev articles CAL_DEV, asked of the whole dev file's index; ``limit``: a seeded sample),
    300 off-topic questions (SQuAD 1.1 train, not in that index), the paraphrase set
    (tests/data/paraphrase_questions.jsonl, its own index under ``folder``) and the seed
    questions the tests expect answered (tests/data/seed_answered.jsonl, counted with the
    paraphrase set's seed questions: none may abstain)."""
    from rag.evaluation.runs import eval_index, load_squad
    from paraphrase_set import SEED_FILE, paraphrase_index

    dev = json.loads((SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    paragraphs, _ = load_squad(SHARED / "squad2" / "dev-v2.0.json")
    idx, _ = eval_index("squad2", paragraphs.items(), settings)
    rows = [(i, q) for i in CAL_DEV for p in dev[i]["paragraphs"] for q in p["qas"]]
    if limit:
        rows = random.Random(0).sample(rows, limit)
    sq = json.loads((SHARED / "train" / "squad11-train.json").read_text(encoding="utf-8"))["data"]
    rnd = random.Random(1)
    off = [q["question"] for a in rnd.sample(sq, 60) for p in a["paragraphs"][:1]
           for q in p["qas"][:5]][:300]
    pidx, prows = paraphrase_index(folder, settings)
    items = [(f"cal:{q['id']}", q["question"], [x["text"] for x in q["answers"]], idx,
              {"kind": "cal", "article": a, "imp": q["is_impossible"]}) for a, q in rows]
    items += [(f"off:{n}", q, [], idx, {"kind": "off"}) for n, q in enumerate(off)]
    items += [(f"para:{n}", r["question"], [], pidx,
               {"kind": "para", "seed": r["file"] == SEED_FILE}) for n, r in enumerate(prows)]
    seed = [json.loads(x) for x in (ROOT / "tests/data/seed_answered.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]  # the tests' answered seed questions
    items += [(f"seedtest:{n}", r["question"], [r["gold"]], pidx, {"kind": "para", "seed": True})
              for n, r in enumerate(seed)]
    return items


def design(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    cols = []
    for n in names:
        if n in ("reader", "answerability"):
            cols.append([logit(r[n]) for r in rows])
        else:
            cols.append([r[n] for r in rows])
    return np.array(cols, dtype=np.float64).T


def probability(w: list[float], x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ np.array(w[:-1]) + w[-1])))


def gated(rows: list[dict]) -> np.ndarray:
    """Questions that abstain before the decision: below the evidence gate (and no close
    passage), or nothing drafted. The decision is fitted on the others."""
    from rag.settings import Settings

    s = Settings()
    return np.array([(r["evidence"] < s.abstain_threshold and r["dense"] < s.paraphrase_dense)
                     or not r["drafted"] for r in rows])


def choose(p_cal, imp, p_para, seed, max_ans: float) -> float | None:
    """The threshold turning away the most unanswerable calibration questions within the
    rule (answerable share, paraphrase set, its seed questions); None when none meets it.
    Probabilities of gated questions are -1 (they abstain at any threshold)."""
    best = None
    for t in np.round(np.arange(0.01, 0.96, 0.005), 3):
        ans = np.mean(p_cal[~imp] < t)
        un = np.mean(p_cal[imp] < t)
        para = np.mean(p_para < t)
        if ans <= max_ans and para <= 0.05 and not np.any((p_para < t) & seed):
            if best is None or un > best[1]:
                best = (float(t), un)
    return None if best is None else best[0]


def scored(w, rows, names, gate, features=None) -> np.ndarray:
    x = (features or design)(rows, names)
    return np.where(gate, -1.0, probability(w, x))


def cross_validate(cal: list[dict], para: list[dict], names: tuple[str, ...], gc: np.ndarray,
                   gp: np.ndarray, max_ans: float, features=None) -> tuple[float, float] | None:
    """(unanswerable abstained, answerable abstained) of the logistic decision over ``names``
    by 4-fold cross-validation by article: fitted (on the questions past the gate ``gc``) and
    thresholded by the rule (``choose``) on three calibration articles, measured on the
    fourth; None when a fold has no threshold meeting the rule. ``features(rows, names)``
    makes the inputs (default ``design``)."""
    features = features or design
    imp = np.array([bool(r["imp"]) for r in cal])
    y = (~imp).astype(float)
    art = np.array([r["article"] for r in cal])
    seed = np.array([bool(r["seed"]) for r in para])
    ans_ab, un_ab = [], []
    for a in CAL_DEV:
        tr = art != a
        m = tr & ~gc
        w = fit_logistic(features([r for r, x in zip(cal, m) if x], names), y[m])
        pc, pp = scored(w, cal, names, gc, features), scored(w, para, names, gp, features)
        t = choose(pc[tr], imp[tr], pp, seed, max_ans)
        if t is None:
            return None
        ans_ab += list(pc[~tr & ~imp] < t)
        un_ab += list(pc[~tr & imp] < t)
    return float(np.mean(un_ab)), float(np.mean(ans_ab))


def fit(args) -> None:
    rows = [json.loads(line) for line in (OUT / f"signals-{args.tag}.jsonl").read_text()
            .splitlines()]
    cal = [r for r in rows if r["kind"] == "cal"]
    para = [r for r in rows if r["kind"] == "para"]
    off = [r for r in rows if r["kind"] == "off"]
    y = np.array([0.0 if r["imp"] else 1.0 for r in cal])
    imp = y == 0
    seed = np.array([r["seed"] for r in para])
    gc, gp, go = gated(cal), gated(para), gated(off)
    print(f"{len(cal)} calibration ({int(imp.sum())} unanswerable), {len(off)} off-topic, "
          f"{len(para)} paraphrase ({int(seed.sum())} seed); gated before the decision: "
          f"answerable {np.mean(gc[~imp]):.3f}, unanswerable {np.mean(gc[imp]):.3f}, "
          f"off-topic {np.mean(go):.3f}, paraphrase {np.mean(gp):.3f}")
    for rt in args.stacked:  # the stacked thresholds on the same rows, for comparison
        st = lambda rows, g: np.array([x or r["reader"] < rt or r["answerability"] < 0.28  # noqa: E731
                                       for r, x in zip(rows, g)])
        sc, sp, so = st(cal, gc), st(para, gp), st(off, go)
        print(f"stacked (reader {rt}, answerability 0.28): answerable {np.mean(sc[~imp]):.3f}, "
              f"unanswerable {np.mean(sc[imp]):.3f}, off-topic {np.mean(so):.3f}, "
              f"paraphrase {np.mean(sp):.3f} (seed {int(np.sum(sp & seed))})")
    pool = ("evidence", "dense", "reader", "margin", "no_answer", "answerability")
    sets = [s for k in range(1, 5) for s in itertools.combinations(pool, k)]
    results = []
    for names in sets:
        found = cross_validate(cal, para, names, gc, gp, args.max_answerable)
        if found is not None:
            results.append((*found, names))
    results.sort(key=lambda r: -r[0])
    print("cross-validated (unanswerable abstained, answerable abstained, features):")
    for r in results[:15]:
        print(f"  {r[0]:.3f} {r[1]:.3f} {' + '.join(r[2])}")
    un, ans, names = results[0]
    if args.features:
        names = tuple(args.features.split(","))
        un, ans = next(((u, a) for u, a, n in results if n == names), (float("nan"),) * 2)
    w = fit_logistic(design([r for r, g in zip(cal, gc) if not g], names), y[~gc])
    pc, pp, po = scored(w, cal, names, gc), scored(w, para, names, gp), scored(w, off, names, go)
    t = choose(pc, imp, pp, seed, args.max_answerable)
    summary = {"features": list(names), "weights": w, "threshold": t,
               "cross_validated": {"unanswerable_abstained": round(un, 4),
                                   "answerable_abstained": round(ans, 4)},
               "at_threshold_on_calibration": {
                   "answerable_abstained": round(float(np.mean(pc[~imp] < t)), 4),
                   "unanswerable_abstained": round(float(np.mean(pc[imp] < t)), 4),
                   "offtopic_abstained": round(float(np.mean(po < t)), 4),
                   "paraphrase_abstained": round(float(np.mean(pp < t)), 4)},
               "fit_on": f"{int((~gc).sum())} of {len(cal)} calibration questions (SQuAD 2.0 "
                         f"dev articles {', '.join(map(str, CAL_DEV))}) through retrieval, "
                         f"those past the evidence gate; features by 4-fold cross-validation "
                         f"by article; threshold: the most unanswerable abstained with at most "
                         f"{args.max_answerable:.0%} of the answerable, at most 5% of the "
                         f"paraphrase set ({len(para)}) and none of its seed questions",
               "reader": args.tag}
    print(json.dumps(summary, indent=1))
    (OUT / f"decision-{args.tag}.json").write_text(json.dumps(summary, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--reader", default=str(MODELS), help="folder of reader.safetensors/json")
    c.add_argument("--tag", default="")
    c.add_argument("--limit", type=int, default=0)
    f = sub.add_parser("fit")
    f.add_argument("--tag", required=True)
    f.add_argument("--max-answerable", type=float, default=0.08)
    f.add_argument("--features", default="", help="comma-separated; default: best by CV")
    f.add_argument("--stacked", type=float, nargs="*", default=[0.05, 0.115],
                   help="reader thresholds of the stacked rule to print for comparison")
    args = ap.parse_args()
    collect(args) if args.cmd == "collect" else fit(args)


if __name__ == "__main__":
    main()
