"""Train the answer checker: does this one sentence answer this question?

The span reader (train_reader.py) reads whole passages and says which span answers; its
no-answer score barely separates an on-topic question whose answer is absent from one whose
answer is there (issue 18; docs/quality.md). The product cites single sentences, so the
decision that matters is sentence-level: the checker reads the question with **one
sentence** and is trained on the negatives that fool the product: the sentence of the same
paragraph, or of another paragraph of the same article, that shares the most words with the
question but not the answer; the answer's own sentence under a perturbed question (a number,
a name, an antonym, a negation: reader_negatives.py); and the real unanswerables.

Same architecture as the reader (the packaged MiniLM, LoRA rank 16 on every linear layer,
a start/end head and a no-answer head), started from the recorded stage 1 reader's weights,
so the product runs it with the reader's own code (rag.answering.span_reader.SpanReader,
torch or ONNX Runtime) and it learns spans inside the sentence as well.

    PYTHONPATH=. nice .venv/bin/python benchmarks/train_checker.py train   # resumable
    PYTHONPATH=. .venv/bin/python benchmarks/train_checker.py export       # a partial run

Data (../shared/eval, README there): SQuAD 1.1 train questions that neither reader stage
saw (after the first 45,000 of train_reader's order), --positives of them; SQuAD 2.0 train's
348 real unanswerables (x2) and dev articles 0, 4, 8, 12 (the training quarter). Dev
articles 2, 6, 10, 14 calibrate; odd dev articles are only reported.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_reader as tr  # noqa: E402

OUT = tr.ROOT / "build" / "checker"
SKIP = 45000  # stage 1 trained on the first 36,000 questions of the order, stage 2 on 9,000 more
MAX_LEN = 160  # question (at most 64 tokens) + one sentence
STOP = frozenset("""a an the of in on at to for from by with and or but is are was were be been
being do does did has have had what which who whom whose when where why how that this these those
it its as into than then there their they he she his her not no""".split())
_WORD = re.compile(r"[A-Za-z0-9]+")
ROUND_STAGE = {1: 3, 2: 5, 3: 6, 4: 7}  # train_reader.out_dir's stage of each round


def content(text: str) -> set[str]:
    return {w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in STOP}


def sentences(text: str) -> list[tuple[int, int]]:
    """The product's own sentence spans (rag.sentences), so training reads what it cites."""
    from rag.sentences import sentence_spans

    return [(a, b) for a, b in sentence_spans(text)]


def closest(q: str, cands: list[str]) -> str | None:
    """The candidate sharing the most content words with the question (ties: the first)."""
    qw = content(q)
    best, score = None, 0
    for c in cands:
        s = len(qw & content(c))
        if s > score:
            best, score = c, s
    return best


def holds(text: str, golds: list[str]) -> bool:
    low = text.lower()
    return any(g.lower() in low for g in golds)


def examples(positives: int, seed: int = 2, skip: int = SKIP, pick=None) -> list[dict]:
    """The checker's examples from SQuAD 1.1 train questions ``skip`` onwards in
    train_reader's order: the next ``positives`` of them, or the ``positives`` that
    ``pick(questions, n)`` chooses among all the rest (round 4)."""
    from reader_negatives import perturb

    pos, by_title = tr.squad11(random.Random(0))  # train_reader's order
    pos = pick(pos[skip:], positives) if pick else pos[skip:skip + positives]
    rnd = random.Random(seed)
    split: dict[tuple[str, int], list[str]] = {}

    def sents(art: str, pi: int) -> list[str]:
        if (art, pi) not in split:
            c = by_title[art][pi]["context"]
            split[(art, pi)] = [c[a:b] for a, b in sentences(c)]
        return split[(art, pi)]

    out: list[dict] = []
    for r in pos:
        c, s, e = r["c"], r["s"], r["e"]
        spans = sentences(c)
        home = [(a, b) for a, b in spans if a <= s and e <= b]
        if not home:
            continue  # the answer crosses a sentence boundary
        a, b = home[0]
        sent = c[a:b]
        out.append({"q": r["q"], "c": sent, "s": s - a, "e": e - a, "kind": "answer_sentence"})
        others = [x for x in sents(r["art"], r["pi"]) if x != sent and not holds(x, r["golds"])]
        near = closest(r["q"], others)
        if near and rnd.random() < 0.6:
            out.append({"q": r["q"], "c": near, "s": -1, "e": -1, "kind": "same_paragraph"})
        if rnd.random() < 0.6:
            paras = by_title[r["art"]]
            pool = [x for j in rnd.sample(range(len(paras)), min(8, len(paras)))
                    if j != r["pi"] for x in sents(r["art"], j) if not holds(x, r["golds"])]
            far = closest(r["q"], pool)
            if far:
                out.append({"q": r["q"], "c": far, "s": -1, "e": -1, "kind": "other_paragraph"})
        if rnd.random() < 0.5:
            made = perturb(r["q"], c, r["golds"],
                           [p["context"] for j, p in enumerate(by_title[r["art"]]) if j != r["pi"]],
                           rnd)
            if made:
                out.append({"q": made[1], "c": sent, "s": -1, "e": -1,
                            "kind": "perturbed_" + made[0]})
    out += real(rnd)
    rnd.shuffle(out)
    return out


def real(rnd: random.Random) -> list[dict]:
    """SQuAD 2.0's crowd-written questions: train's 348 unanswerables (x2) against the
    sentence of their paragraph closest to them, and the dev training quarter's questions
    (answerable: against the answer's sentence)."""
    out = []
    s2 = json.loads((tr.SHARED / "train" / "squad20-train-first10.json").read_text(
        encoding="utf-8"))["data"]
    dev = json.loads((tr.SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    for arts, copies, kind in ((s2, 2, "squad20_train"), ([dev[i] for i in tr.TRAIN_DEV], 1,
                                                         "squad20_dev_train_quarter")):
        for art in arts:
            for p in art["paragraphs"]:
                c = p["context"]
                spans = sentences(c)
                for q in p["qas"]:
                    if q.get("is_impossible"):
                        near = closest(q["question"], [c[a:b] for a, b in spans])
                        if near:
                            out += [{"q": q["question"], "c": near, "s": -1, "e": -1,
                                     "kind": kind + "_unanswerable"}] * copies
                    elif kind != "squad20_train":  # train's answerable ones are in SQuAD 1.1
                        x = q["answers"][0]
                        s, e = x["answer_start"], x["answer_start"] + len(x["text"])
                        home = [(a, b) for a, b in spans if a <= s and e <= b]
                        if home:
                            a, b = home[0]
                            out.append({"q": q["question"], "c": c[a:b], "s": s - a,
                                        "e": e - a, "kind": kind + "_answerable"})
    return out


def plausible(rnd: random.Random, copies: int = 4) -> list[dict]:
    """Round 3: the real unanswerables again, each against the sentence holding its
    *plausible answer* (the span the crowd worker wrote the question against: the sentence
    the product is fooled by), besides the closest one, ``copies`` times each: 1,003 of them
    in train's 10 articles and dev's training quarter, a few percent of rounds 1-2's data."""
    out = []
    s2 = json.loads((tr.SHARED / "train" / "squad20-train-first10.json").read_text(
        encoding="utf-8"))["data"]
    dev = json.loads((tr.SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    for art in s2 + [dev[i] for i in tr.TRAIN_DEV]:
        for p in art["paragraphs"]:
            c = p["context"]
            spans = sentences(c)
            for q in p["qas"]:
                if not q.get("is_impossible"):
                    continue
                targets = set()
                for x in q.get("plausible_answers") or []:
                    s = x["answer_start"]
                    targets |= {c[a:b] for a, b in spans if a <= s < b}
                near = closest(q["question"], [c[a:b] for a, b in spans])
                targets |= {near} if near else set()
                for t in sorted(targets):
                    out += [{"q": q["question"], "c": t, "s": -1, "e": -1,
                             "kind": "real_unanswerable_plausible"}] * copies
    return out


def round3(positives: int) -> list[dict]:
    """Round 3 (from the shipped checker): the next ``positives`` SQuAD 1.1 questions with
    rounds 1-2's negatives, and the real unanswerables weighted up (plausible())."""
    rnd = random.Random(11)
    rows = examples(positives, seed=11, skip=SKIP + 32000) + plausible(rnd)
    rnd.shuffle(rows)
    return rows


def overlap(r: dict) -> float:
    """The share of the question's content words that its answer's sentence holds."""
    c, s = r["c"], r["s"]
    sent = next((c[a:b] for a, b in sentences(c) if a <= s < b), c)
    qw = content(r["q"])
    return len(qw & content(sent)) / max(1, len(qw))


def least_overlap(pool: list[dict], n: int) -> list[dict]:
    """The ``n`` questions worded least like their answer's sentence (ties: the order)."""
    ranked = sorted(range(len(pool)), key=lambda i: (overlap(pool[i]), i))
    return [pool[i] for i in sorted(ranked[:n])]


def round4(positives: int) -> list[dict]:
    """Round 4 (from the shipped checker): of the SQuAD 1.1 questions the shipped checker
    never saw (after round 1's), the ``positives`` worded least like their answer's
    sentence, with round 1's negatives: a user's question shares fewer words with the
    document than a SQuAD annotator's, and the checker scores those low (issue 18: "What
    did people leave at the site?" against "laying flowers and teddy bears at the site")."""
    return examples(positives, seed=13, skip=SKIP + 16000, pick=least_overlap)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--positives", type=int, default=16000)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--max-steps", type=int, default=1200)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--checkpoint-seconds", type=float, default=120)
    t.add_argument("--round", type=int, choices=(1, 2, 3, 4), default=1,
                   help="2: continue round 1's weights on the next --positives questions; "
                        "3: the shipped checker on later questions and the real "
                        "unanswerables weighted up; 4: the shipped checker on the later "
                        "questions worded least like their sentence")
    x = sub.add_parser("export", help="the latest checkpoint as the weights (a partial run)")
    x.add_argument("--batch", type=int, default=32)
    x.add_argument("--lr", type=float, default=3e-4)
    x.add_argument("--round", type=int, choices=(1, 2, 3, 4), default=1)
    args = ap.parse_args()
    args.stage = ROUND_STAGE[args.round]
    # train_reader's loop (stage 3 = this folder), on this data and input length, from the
    # recorded stage 1 reader (rag/answering/models)
    from rag.answering.span_reader import safe_stride

    tr.MAX_LEN, tr.STRIDE = MAX_LEN, safe_stride(MAX_LEN, tr.STRIDE)  # recorded as read
    if args.round == 1:
        tr.examples_hard = lambda positives, skip: examples(positives)
        args.start = tr.ROOT / "rag" / "answering" / "models" / "reader.safetensors"
    elif args.round == 2:  # round 2: the next questions, from round 1's weights (build/checker)
        tr.examples_hard = lambda positives, skip: examples(positives, seed=5,
                                                             skip=SKIP + positives)
        args.start = OUT / "reader.safetensors"
    else:  # rounds 3-4: from the shipped checker (rag/answering/models), into build/checker-N
        tr.examples_hard = lambda positives, skip: (round3 if args.round == 3 else round4)(
            positives)
        args.start = tr.ROOT / "rag" / "answering" / "models" / "checker.safetensors"
    if args.cmd == "train":
        t0 = time.perf_counter()
        tr.train(args)
        print(f"{time.perf_counter() - t0:.0f} s")
    else:
        args.positives, args.threads = 0, 2
        tr.export(args)


if __name__ == "__main__":
    main()
