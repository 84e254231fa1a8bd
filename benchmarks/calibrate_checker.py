"""Calibrate and record the answer checker (benchmarks/train_checker.py), on calibration data
only (SQuAD 2.0 dev articles 2, 6, 10, 14, the paraphrase set, off-topic questions).

    python benchmarks/calibrate_checker.py platt     # p from margin + no-answer; install
    python benchmarks/calibrate_checker.py auc       # sentence-level AUC, reader vs checker
    python benchmarks/calibrate_checker.py collect   # the product's steps, per question
    python benchmarks/calibrate_checker.py fit       # the threshold (4-fold CV by article)
    python benchmarks/calibrate_checker.py designs   # candidate choices compared (collected)

1. ``platt``: p = sigmoid(w0 * margin + w1 * no_answer + w2), fit (log loss) on calibration
   sentence pairs made as in training: each answerable question with its answer's sentence
   (1) and with the sentence of its paragraph closest to it that lacks the answer (0); each
   unanswerable question with the sentence closest to it (0). Writes the weights and the
   record to rag/answering/models/checker.{safetensors,json}.
2. ``collect`` runs retrieval over the whole dev file's index, the evidence, the span reader,
   the checker over its candidates, the extractive draft that follows and the answerability
   model on it, for the calibration questions, 300 off-topic questions and the paraphrase set,
   and records per question: the checker's best probability, whether the sentence it puts
   first holds a gold answer (and whether the reader's would), the answerability probability.
3. ``fit`` chooses the threshold by the product's rule (the most unanswerable abstained with at
   most --max-answerable of the answerable, at most 5% of the paraphrase set and none of its
   seed questions), with and without the answerability check after it, by 4-fold
   cross-validation by article, then on all four; ``--write`` records it in checker.json.
The held-out figures come from ``docchat eval qa --articles odd`` afterwards.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_decision import calibration_items, choose, cross_validate  # noqa: E402
from calibrate_decision import scored as shared_scored  # noqa: E402
from train_checker import OUT, closest, sentences  # noqa: E402
from train_reader import CAL_DEV, ROOT, SHARED  # noqa: E402
from train_reader_record import fit_logistic  # noqa: E402

MODELS = ROOT / "rag" / "answering" / "models"
SIGNALS = OUT / "signals.jsonl"
#: ``collect`` also reads this many sentences best by evidence beyond the product's
#: candidates, to compare candidate choices offline (``designs``)
WIDE = 12


def sentence_pairs() -> tuple[list, list, list]:
    """The calibration articles' own paragraphs as (question, sentence) pairs: answerable
    questions with their answer's sentence, with the sentence of their paragraph closest to
    them that lacks the answer, and unanswerable questions with the sentence closest to them."""
    dev = json.loads((SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    pos, lacking, unans = [], [], []
    for i in CAL_DEV:
        for p in dev[i]["paragraphs"]:
            c = p["context"]
            sents = [c[a:b] for a, b in sentences(c)]
            for q in p["qas"]:
                golds = [x["text"].lower() for x in q["answers"]]
                has = [s for s in sents if any(g in s.lower() for g in golds)]
                near = closest(q["question"], [s for s in sents if s not in has])
                if q["is_impossible"]:
                    unans += [(q["question"], near)] if near else []
                else:
                    pos += [(q["question"], has[0])] if has else []
                    lacking += [(q["question"], near)] if near else []
    return pos, lacking, unans


def platt(args) -> None:
    """Fit p on the calibration pairs for the trained checker in ``--source`` (build/checker
    by default) and record it there (reader.json); ``--install`` (the default for round 1's
    folder) copies it into rag/answering/models as the product's checker."""
    from rag.answering.span_reader import SpanReader

    src = Path(args.source) if args.source else OUT
    install = args.install or not args.source

    pos, lacking, unans = sentence_pairs()
    pairs = [(q, s, 1.0) for q, s in pos] + [(q, s, 0.0) for q, s in lacking + unans]
    info = json.loads((src / "train.json").read_text())
    meta = src / "reader.json"
    meta.write_text(json.dumps(info))
    reader = SpanReader(src / "reader.safetensors", meta, backend="auto")
    t0 = time.perf_counter()
    feats = []
    for q, s, _ in pairs:
        r = reader.read(q, [s])[0]
        feats.append((r.margin, r.no_answer))
    x, y = np.array(feats), np.array([p[2] for p in pairs])
    w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ np.array(w[:2]) + w[2])))
    auc = float(np.mean([a > b for a in p[y == 1] for b in p[y == 0]]))
    info.update({
        "data": "SQuAD 1.1 train questions neither reader stage saw (after the first 45,000 "
                "of benchmarks/train_reader.py's order), each with its answer's sentence; "
                "negatives: the sentence of its paragraph and of another paragraph of its "
                "article sharing the most words with it but not the answer, the answer's "
                "sentence under a perturbed question (reader_negatives.py); SQuAD 2.0 train's "
                "348 real unanswerables (x2, against their paragraph's closest sentence) and "
                "dev articles 0, 4, 8, 12; started from the recorded stage 1 reader; "
                "calibration on dev articles 2, 6, 10, 14; odd dev articles held out",
        "calibration": {"weights": w, "features": ["margin", "no_answer_logit", "bias"],
                        "fit_on": f"{len(pairs)} calibration sentence pairs "
                                  f"({int(y.sum())} answer sentences)",
                        "auc_in_sample": round(auc, 4)}})
    meta.write_text(json.dumps(info, indent=1) + "\n")
    if install:
        MODELS.mkdir(exist_ok=True)
        shutil.copyfile(src / "reader.safetensors", MODELS / "checker.safetensors")
        (MODELS / "checker.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"{len(pairs)} pairs in {time.perf_counter() - t0:.0f} s; weights {w}; AUC {auc:.3f}")


def auc(args) -> None:
    """How well each model (rag/answering/models/<name>) tells the answer's sentence from
    the sentence of its paragraph closest to the question without the answer, and from the
    sentence closest to an unanswerable question, on the calibration articles' own
    paragraphs (no retrieval): the probability's AUC for each pair of classes."""
    from rag.answering.span_reader import SpanReader

    pos, lacking, unans = sentence_pairs()

    def area(a, b) -> float:
        return float(np.mean(np.array(a)[:, None] > np.array(b)[None, :]))

    for name in args.models.split(","):  # a name in rag/answering/models, or a folder
        # a training run wrote and ``platt --source`` calibrated (reader.safetensors/.json)
        files = (Path(name) / "reader.safetensors", Path(name) / "reader.json") \
            if "/" in name else (MODELS / f"{name}.safetensors", MODELS / f"{name}.json")
        model = SpanReader(*files, backend="auto")
        p, lk, un = ([model.read(q, [s])[0].probability for q, s in rows]
                     for rows in (pos, lacking, unans))
        print(f"{name}: answer sentence ({len(p)}) vs closest sentence without the answer "
              f"({len(lk)}): AUC {area(p, lk):.3f}; vs closest sentence to an unanswerable "
              f"question ({len(un)}): AUC {area(p, un):.3f}")


def collect(args) -> None:
    from rag.answering import answer_check
    from rag.answering.answerability import judge
    from rag.answering.citations import verify
    from rag.answering.evidence import build_evidence
    from rag.answering.span_reader import SpanReader
    from rag.engines.extractive import ExtractiveEngine
    from rag.settings import Settings

    os.chdir(ROOT)
    settings = Settings.from_env().replace(abstain_threshold=0.0, checker_threshold=1e-9)
    eng = ExtractiveEngine(settings)
    reader = SpanReader.shared(settings)

    def signals(question: str, golds: list[str], index) -> dict:
        hits = index.search(question, settings.top_k)
        ev = build_evidence(index.embedder(), question, hits)
        if not hits:
            return {"evidence": 0.0, "dense": 0.0, "reader": 0.0, "checker": 0.0,
                    "answerability": 0.0, "drafted": 0.0}
        ev = replace(ev, readings=tuple(reader.read(question, [h.text for h in hits])))
        low = [g.lower() for g in golds]
        gold = lambda j: any(g in ev.sentences[j].text.lower() for g in low)  # noqa: E731
        first_reader = ev.reading_sentences(settings.reader_threshold, settings.reader_keep, 1)
        chosen = answer_check.candidates(ev)
        by_reader = []  # the sentence of each passage's best span, best reading first
        for i in sorted(range(len(ev.readings)), key=lambda i: -ev.readings[i].probability):
            j = ev.sentence_at(i, hits[i].start + ev.readings[i].start)
            if j is not None and not ev.sentences[j].structural and j not in by_reader:
                by_reader.append(j)
        by_ev = [j for j in sorted(range(len(ev.sentences)), key=lambda j: -float(ev.ranking[j]))
                 if not ev.sentences[j].structural][:WIDE]
        wide = answer_check.check(settings, ev, chosen + [j for j in by_ev + by_reader
                                                          if j not in chosen])
        checks = tuple(c for c in wide if c.sentence in chosen)  # what the product reads
        ev = replace(ev, checks=checks)
        nli = support_signals(question, ev, checks)
        draft = "".join(eng.draft(question, ev)).strip()
        verified = verify(ev, draft, settings.support_threshold) if draft else []
        pa = judge(ev.encode, question, [(v.text, v.cited, v.supported) for v in verified],
                   hits, ev.best).probability if verified else 0.0
        return {"evidence": ev.best, "dense": max(h.dense for h in hits),
                "reader": max(r.probability for r in ev.readings),
                "checker": answer_check.best(checks),  # what the decision reads
                "answerability": pa, "drafted": float(bool(verified)),
                "gold_first_checker": bool(checks) and gold(checks[0].sentence),
                "gold_first_reader": bool(first_reader) and gold(first_reader[0]),
                "gold_any_candidate": any(gold(c.sentence) for c in checks),
                "candidates": [{"checker": c.probability, "gold": gold(c.sentence),
                                "reader": ev.readings[ev.sentences[c.sentence].passage]
                                .probability, "rank": float(ev.ranking[c.sentence]),
                                "reader_first": bool(first_reader)
                                and c.sentence == first_reader[0]} for c in checks],
                # every sentence read: the product's candidates and the WIDE best by evidence
                "wide": [{"checker": c.probability, "gold": gold(c.sentence),
                          "text": hashlib.sha1(ev.sentences[c.sentence].text.encode())
                          .hexdigest()[:12],
                          "evidence": round(float(ev.ranking[c.sentence]), 4),
                          "ev_rank": by_ev.index(c.sentence) if c.sentence in by_ev else -1,
                          "reader_rank": by_reader.index(c.sentence)
                          if c.sentence in by_reader else -1,
                          "passage": ev.sentences[c.sentence].passage,
                          "passage_reader": ev.readings[ev.sentences[c.sentence].passage]
                          .probability} for c in wide],
                "answer": " ".join(v.text for v in verified)[:300], **nli}

    def support_signals(question: str, ev, checks) -> dict:
        """Candidate signals from the support checker (rag.answering.entailment's model) on
        the opening sentence: does it entail the question's claim with the checker's span
        as its answer? Three wordings of the claim; 0 without a span."""
        if not checks or not checks[0].span:
            return {"nli_qspan": 0.0, "nli_stmt": 0.0, "nli_q": 0.0}
        c = checks[0]
        s = ev.sentences[c.sentence]
        h = ev.hits[s.passage]
        premise = h.text[s.start - h.start:s.end - h.start]
        claims = {"nli_qspan": f"{question.strip()} {c.span}",
                  "nli_stmt": statement(question, c.span), "nli_q": question.strip()}
        model = SpanReader.shared(settings, "support")
        return {k: round(model.read(claim, [premise])[0].probability, 5)
                for k, claim in claims.items()}

    items = calibration_items(settings, args.limit, OUT / "paraphrase")
    done = set()
    if SIGNALS.exists():
        done = {json.loads(line)["key"] for line in SIGNALS.read_text().splitlines()}
    t0 = time.perf_counter()
    with SIGNALS.open("a", encoding="utf-8") as f:
        for n, (key, q, golds, index, meta) in enumerate(items):
            if key in done:
                continue
            f.write(json.dumps({"key": key, "q": q, **meta, **signals(q, golds, index)}) + "\n")
            if n % 100 == 0:
                f.flush()
                print(f"{n}/{len(items)} {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"collected {len(items)} in {time.perf_counter() - t0:.0f} s -> {SIGNALS}")


WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how(?: many| much| long| far| "
                r"old| often| large| big)?)\b", re.I)


def statement(question: str, span: str) -> str:
    """The question as a claim with ``span`` as its answer, crudely: its first wh-phrase
    replaced by the span ("When did the Normans conquer England?" -> "1066 did the Normans
    conquer England"); the question and the span when it has none."""
    q = question.strip().rstrip("?").strip()
    out, n = WH.subn(span, q, count=1)
    return out if n else f"{q} {span}"


def features(rows: list[dict], names: Sequence[str]) -> np.ndarray:
    """The decision's inputs, as the product computes them (rag.answering.answer_check.decide):
    probabilities as logits, the dense cosine as it is."""
    from rag.answering.answer_check import logit

    return np.array([[logit(r[n]) if n in ("checker", "reader", "answerability", "checker_second")
                       or n.startswith("nli") else r[n]
                      for n in names] for r in rows], dtype=np.float64).reshape(len(rows), -1)


def ranked(cal, para, pool, gc, gp, max_ans) -> list[tuple[float, float, tuple[str, ...]]]:
    """(unanswerable, answerable abstained, features) by 4-fold CV for every decision over
    1-3 signals of ``pool`` that meets the rule in every fold, most unanswerable first."""
    results = []
    for k in (1, 2, 3):
        for names in itertools.combinations(pool, k):
            found = cross_validate(cal, para, names, gc, gp, max_ans, features)
            if found is not None:
                results.append((*found, names))
    return sorted(results, key=lambda r: -r[0])


def as_product(r: dict) -> dict:
    """A collected row as the product reads it now: the checker's best over its candidates
    (the CANDIDATES best sentences by evidence, among the ``wide`` reads) and whether the
    opening one (checker p + EVIDENCE x evidence) holds the gold."""
    from rag.answering.answer_check import CANDIDATES, EVIDENCE

    picked, seen = [], set()  # each text once, as answer_check.candidates (rows collected
    for c in sorted((c for c in r.get("wide", []) if c["ev_rank"] >= 0),  # before session
                    key=lambda c: c["ev_rank"]):  # 11's end have no text: every copy counts)
        if c.get("text") is None or c["text"] not in seen:
            picked.append(c)
            seen.add(c.get("text"))
        if len(picked) == CANDIDATES:
            break
    top = max(picked, key=lambda c: c["checker"] + EVIDENCE * c["evidence"], default=None)
    ps = sorted((c["checker"] for c in picked), reverse=True) + [0.0, 0.0]
    return {**r, "checker": max((c["checker"] for c in picked), default=0.0),
            "checker_second": ps[1], "checker_sum": float(sum(ps)),
            "gold_first_checker": bool(top and top["gold"]),
            "gold_any_candidate": any(c["gold"] for c in picked)}


def fit(args) -> None:
    """Each decision (a logistic model over some of the signals the product has after its
    one model pass) by 4-fold CV by article under the rule, then the chosen one (the rule's
    best unless ``--features``) on all."""
    from rag.settings import Settings

    s = Settings()
    raw = [json.loads(line) for line in SIGNALS.read_text().splitlines()]
    if not all("wide" in r for r in raw if r.get("candidates")):
        raise SystemExit(f"{SIGNALS} has no wide reads: run collect again")
    rows = [as_product(r) for r in raw]
    cal = [r for r in rows if r["kind"] == "cal"]
    para = [r for r in rows if r["kind"] == "para"]
    off = [r for r in rows if r["kind"] == "off"]
    imp = np.array([r["imp"] for r in cal])
    ans, y = ~imp, (~imp).astype(float)
    seed = np.array([r["seed"] for r in para])

    def gate(rs):  # abstained before the decision: the evidence gate
        return np.array([r["evidence"] < s.abstain_threshold and r["dense"] < s.paraphrase_dense
                         for r in rs], dtype=bool)

    gc, gp, go = gate(cal), gate(para), gate(off)

    def scored(w, rs, names, g):
        return shared_scored(w, rs, names, g, features)

    print(f"{len(cal)} calibration ({int(imp.sum())} unanswerable), {len(off)} off-topic, "
          f"{len(para)} paraphrase set and tests' seed questions ({int(seed.sum())} seed)")
    print("first sentence holds the gold (answerable calibration questions): checker "
          f"{np.mean([r['gold_first_checker'] for r, a in zip(cal, ans) if a]):.3f}, reader "
          f"{np.mean([r['gold_first_reader'] for r, a in zip(cal, ans) if a]):.3f}, any "
          f"candidate {np.mean([r['gold_any_candidate'] for r, a in zip(cal, ans) if a]):.3f}")
    # the reader and the answerability check each cost a model pass the product no longer
    # makes (issue 18 item 4): ``designs`` compares with them
    results = ranked(cal, para, tuple(args.pool.split(",")), gc, gp, args.max_answerable)
    print("cross-validated (unanswerable abstained, answerable abstained, features):")
    for u, a, names in results:
        print(f"  {u:.3f} {a:.3f} {' + '.join(names)}")
    if not results:
        raise SystemExit("no decision meets the rule in every fold")
    names = tuple(args.features.split(",")) if args.features else results[0][2]
    found = [(u, a) for u, a, n in results if n == names]
    if not found:
        raise SystemExit(f"{' + '.join(names)}: no threshold meets the rule in every fold")
    u, a = found[0]
    w = fit_logistic(features([r for r, g in zip(cal, gc) if not g], names), y[~gc])
    pc, pp, po = scored(w, cal, names, gc), scored(w, para, names, gp), scored(w, off, names, go)
    t = choose(pc, imp, pp, seed, args.max_answerable)
    out = {"features": list(names), "weights": w, "threshold": t,
           "cross_validated": {"answerable_abstained": round(a, 4),
                               "unanswerable_abstained": round(u, 4)},
           "at_threshold_on_calibration": {
               "answerable_abstained": round(float(np.mean(pc[ans] < t)), 4),
               "unanswerable_abstained": round(float(np.mean(pc[imp] < t)), 4),
               "offtopic_abstained": round(float(np.mean(po < t)), 4),
               "paraphrase_abstained": round(float(np.mean(pp < t)), 4)},
           "candidates": "the 6 best sentences by evidence (no span reader pass)",
           "rule": f"the most unanswerable calibration questions (SQuAD 2.0 dev articles "
                   f"{', '.join(map(str, CAL_DEV))}, through retrieval) abstained with at most "
                   f"{args.max_answerable:.0%} of the answerable, at most 5% of the paraphrase "
                   f"set with the tests' seed questions and none of their seed questions; "
                   f"features by 4-fold cross-validation by article"}
    print(json.dumps(out, indent=1))
    if args.write:
        meta = MODELS / "checker.json"
        info = json.loads(meta.read_text())
        info["decision"] = out
        info.pop("threshold", None)
        meta.write_text(json.dumps(info, indent=1) + "\n")
        print("recorded in", meta)


def reader_candidates(wide: list[dict]) -> list[dict]:
    """Session 10's candidates among a question's ``wide`` reads (collected with the span
    reader on): each passage's reader sentence, best reading first, then 3 by evidence, at
    most 8."""
    out = sorted((c for c in wide if c["reader_rank"] >= 0), key=lambda c: c["reader_rank"])
    extra = 0
    for c in sorted((c for c in wide if c["ev_rank"] >= 0), key=lambda c: c["ev_rank"]):
        if extra >= 3 or len(out) >= 8:
            break
        if c not in out:
            out.append(c)
            extra += 1
    return out[:8]


def designs(args) -> None:
    """Candidate choices compared on the collected signals, calibration articles only: which
    sentences the checker reads (session 10's: the reader's sentence of each passage and 3
    by evidence; or the N best by evidence with no reader pass at all, as now), how the opening one
    is ordered, and the decision each allows (4-fold CV by article under the rule)."""
    from rag.settings import Settings

    s = Settings()
    rows = [json.loads(line) for line in SIGNALS.read_text().splitlines()]
    if not all("wide" in r for r in rows if r.get("candidates")):
        raise SystemExit(f"{SIGNALS} has no wide reads: run collect again")

    def evidence_gate(rs):
        return np.array([r["evidence"] < s.abstain_threshold and r["dense"] < s.paraphrase_dense
                         for r in rs], dtype=bool)

    def reader_gate(rs):
        return evidence_gate(rs) | np.array([r["reader"] < s.reader_threshold for r in rs],
                                            dtype=bool)

    choices = [("session 10: the reader's sentences + 3 by evidence", True, reader_candidates)]
    choices += [(f"the {n} best by evidence, no reader", False,
                 lambda w, n=n: [c for c in w if 0 <= c["ev_rank"] < n])
                for n in args.tops]
    for name, reader, pick in choices:
        picked = [dict(r, checker=max((c["checker"] for c in pick(r.get("wide", []))),
                                      default=0.0), picked=pick(r.get("wide", [])))
                  for r in rows]
        cal = [r for r in picked if r["kind"] == "cal"]
        para = [r for r in picked if r["kind"] == "para"]
        ans = [r for r in cal if not r["imp"]]
        print(f"{name}: {np.mean([len(r['picked']) for r in cal]):.1f} sentences read; gold "
              f"in one of them {np.mean([any(c['gold'] for c in r['picked']) for r in ans]):.3f}")
        for e in (0.0, 0.25, 0.5, 1.0):
            for rw in ((0.0, 0.5) if reader else (0.0,)):
                def first(r):
                    p = r["picked"]
                    return bool(p) and max(p, key=lambda c: c["checker"] + e * c["evidence"]
                                           + rw * c["passage_reader"])["gold"]
                print(f"  opening sentence holds the gold, order checker + {e} evidence"
                      f"{f' + {rw} reader' if reader else ''}: "
                      f"{np.mean([first(r) for r in ans]):.3f}")
        gate = reader_gate if reader else evidence_gate
        gc, gp = gate(cal), gate(para)
        pool = ("checker", "dense", "evidence") + (("reader",) if reader else ())
        results = ranked(cal, para, pool, gc, gp, args.max_answerable)
        for u, a, names in results[:5]:
            print(f"  CV: unanswerable {u:.3f}, answerable {a:.3f}: {' + '.join(names)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    pl = sub.add_parser("platt")
    pl.add_argument("--source", default="", help="a trained checker's folder (build/checker)")
    pl.add_argument("--install", action="store_true",
                    help="copy it into rag/answering/models (implied without --source)")
    a = sub.add_parser("auc")
    a.add_argument("--models", default="reader,checker")
    c = sub.add_parser("collect")
    c.add_argument("--limit", type=int, default=0)
    f = sub.add_parser("fit")
    f.add_argument("--max-answerable", type=float, default=0.08)
    f.add_argument("--features", default="",
                   help="the decision recorded, comma-separated (default: the rule's best of "
                   "the cross-validated list it prints)")
    f.add_argument("--write", action="store_true", help="record it in checker.json")
    f.add_argument("--pool", default="checker,dense,evidence",
                   help="signals the decisions may read (comma-separated)")
    d = sub.add_parser("designs")
    d.add_argument("--max-answerable", type=float, default=0.08)
    d.add_argument("--tops", type=int, nargs="*", default=[3, 4, 5, 6, 8, 12])
    args = ap.parse_args()
    {"platt": platt, "auc": auc, "collect": collect, "fit": fit, "designs": designs}[args.cmd](args)


if __name__ == "__main__":
    main()
