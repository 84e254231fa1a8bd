"""Cited summaries (issue 22): time per document, and ROUGE against summaries written
independently of the product. Printed, never asserted.

    .venv/bin/python benchmarks/bench_summary.py [--dev 8] [--train 12] [--json]

Timing: the seed article and every PDF of ../shared/eval/pdfs (a 15-page and a 117-page one
among them), summarised with the default length, warm (the model loaded once before).

Quality: Wikipedia articles. An article's first paragraph is its lead, written by
Wikipedia's editors as a summary of the article: it is withheld, and the rest of the article
is indexed and summarised. ROUGE-1 and ROUGE-2 (F1, lower-cased word n-grams) of docchat's
summary against that lead, with the same number of sentences as the lead, beside two
baselines of that length: the first sentences of the indexed text (lead-k, strong on
encyclopedic text) and random sentences (mean of 5 draws). The reference set (20 articles by
default; issue 22 asks for at least 10):

- the SQuAD 2.0 dev file's odd articles (../shared/eval/squad2/dev-v2.0.json; the file holds
  8 of them), the half the span reader was not calibrated on;
- SQuAD 1.1 train articles (../shared/eval/train/squad11-train.json) picked by a rule fixed
  before any was summarised: those of at least 15 paragraphs whose first paragraph starts
  with the title's first word (a lead, not a later section SQuAD happened to keep first),
  every len/N-th of them in file order.

Nothing in rag.answering.summary was tuned on any of them (its constants were set by reading
summaries of the seed article and the PDFs).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"


def ngrams(text: str, n: int) -> Counter:
    words = re.findall(r"\w+", text.lower())
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def rouge(candidate: str, reference: str, n: int) -> float:
    c, r = ngrams(candidate, n), ngrams(reference, n)
    overlap = sum((c & r).values())
    if not overlap:
        return 0.0
    p, q = overlap / sum(c.values()), overlap / sum(r.values())
    return 2 * p * q / (p + q)


def timings() -> list[dict]:
    from rag.index import Index
    from rag.settings import Settings
    from rag.answering.summary import summarise

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        idx = Index(Path(tmp) / "index", Settings(index_dir=str(Path(tmp) / "index")))
        idx.update([str(ROOT / "seeds"), str(SHARED / "pdfs")])
        docs = [d for d in idx.documents() if d.status == "indexed"]
        summarise(idx, [docs[0].path], 3)  # warm: the model
        for d in sorted(docs, key=lambda d: d.pages):
            t = time.perf_counter()
            s = summarise(idx, [d.path])
            out.append({"document": d.name, "pages": d.pages, "chunks": d.chunks,
                        "sentences": len(s.sentences),
                        "seconds": round(time.perf_counter() - t, 2)})
    return out


def reference_articles(n_dev: int, n_train: int) -> list[tuple[str, dict]]:
    """(source, SQuAD article) pairs of the reference set, by the rule in the docstring."""
    out: list[tuple[str, dict]] = []
    dev = SHARED / "squad2" / "dev-v2.0.json"
    if dev.exists() and n_dev > 0:
        data = json.loads(dev.read_text(encoding="utf-8"))["data"]
        out += [("dev", a) for i, a in enumerate(data) if i % 2 == 1][:n_dev]
    train = SHARED / "train" / "squad11-train.json"
    if train.exists() and n_train > 0:
        data = json.loads(train.read_text(encoding="utf-8"))["data"]
        leads = []
        for a in data:
            first = re.sub(r"\W+", " ", a["title"].replace("_", " ")).split()[0].lower()
            if (len(a["paragraphs"]) >= 15
                    and a["paragraphs"][0]["context"].strip().lower().startswith(first)):
                leads.append(a)
        step = max(1, len(leads) // n_train)
        out += [("train", a) for a in leads[::step][:n_train]]
    return out


def quality(articles: list[tuple[str, dict]]) -> dict:
    """ROUGE of docchat's summaries and the two baselines on ``articles``
    (reference_articles)."""
    from rag.index import Index
    from rag.sentences import split_sentences
    from rag.settings import Settings
    from rag.answering.summary import summarise

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        refs = {}
        for source, a in articles:
            paragraphs = [p["context"] for p in a["paragraphs"]]
            name = re.sub(r"\W+", "_", a["title"])[:60] + ".txt"
            refs[name] = (source, paragraphs[0], paragraphs[1:])
            (docs / name).write_text("\n\n".join(paragraphs[1:]) + "\n", encoding="utf-8")
        idx = Index(Path(tmp) / "index", Settings(index_dir=str(Path(tmp) / "index")))
        idx.update([docs])
        rng = random.Random(13)
        for name, (source, lead, rest) in refs.items():
            k = max(1, min(20, len(split_sentences(lead))))
            body = [s for p in rest for s in split_sentences(p)]
            ours = " ".join(x.text for x in summarise(idx, [str(docs / name)], k).sentences)
            lead_k = " ".join(body[:k])
            randoms = [" ".join(rng.sample(body, min(k, len(body)))) for _ in range(5)]
            row = {"article": name, "source": source, "sentences": k}
            for label, text in (("docchat", ours), ("lead_k", lead_k)):
                row[label] = (rouge(text, lead, 1), rouge(text, lead, 2))
            row["random"] = tuple(sum(rouge(t, lead, n) for t in randoms) / 5 for n in (1, 2))
            rows.append(row)

    def mean(rs: list[dict]) -> dict:
        return {label: tuple(round(sum(r[label][i] for r in rs) / len(rs), 4) for i in (0, 1))
                for label in ("docchat", "lead_k", "random")}

    by_source = {src: mean([r for r in rows if r["source"] == src])
                 for src in sorted({r["source"] for r in rows})}
    return {"articles": len(rows), "rouge_1_2_f1": mean(rows) if rows else {},
            "by_source": by_source,
            "counts": {src: sum(r["source"] == src for r in rows) for src in by_source},
            "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=int, default=8, help="SQuAD 2.0 dev odd articles")
    ap.add_argument("--train", type=int, default=12, help="SQuAD 1.1 train lead articles")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = {"timings": timings()}
    articles = reference_articles(args.dev, args.train)
    if articles:
        result["quality"] = quality(articles)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("summary timings (default length, warm):")
    for t in result["timings"]:
        print(f"  {t['document']:<40} {t['pages']:>4} pages {t['chunks']:>5} chunks "
              f"{t['sentences']:>3} sentences {t['seconds']:>7.2f} s")
    if "quality" in result:
        q = result["quality"]
        counts = ", ".join(f"{n} {src}" for src, n in q["counts"].items())
        print(f"ROUGE-1 / ROUGE-2 F1 against the withheld Wikipedia lead ({q['articles']} "
              f"articles: {counts}):")
        for label, (r1, r2) in q["rouge_1_2_f1"].items():
            by = "  ".join(f"{src} {v[label][0]:.4f} / {v[label][1]:.4f}"
                           for src, v in q["by_source"].items())
            print(f"  {label:<8} {r1:.4f} / {r2:.4f}   ({by})")


if __name__ == "__main__":
    main()
