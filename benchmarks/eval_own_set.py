"""Score docchat on its own evaluation set (tests/data/own_set/questions.jsonl).

The set is written by hand over five files: the seed article, two real PDFs from
../shared/eval/pdfs (multi_page.pdf, federal-register-2020-17221.pdf), and an office report
(.docx) and budget (.xlsx) that this script builds from office_report.md and
office_budget.csv. Two classes of questions:

* answerable: worded differently from the text; ``gold`` is a short string verbatim in the
  document that a correct answer must contain;
* unanswerable: on topic (same people, places, events), but the documents do not give the
  answer (a date, a name, a number, a cause); ``note`` says what is absent.

It indexes the five files in a temporary folder (no index or data of the user's is touched),
asks every question of the whole index with rag.answer.ask (the extractive engine unless
--engine says otherwise) and prints, per file and class:

* answerable: abstained %, answer contains gold % (case-insensitive, whitespace-normalised),
  first sentence of the answer contains gold %;
* unanswerable: abstained % (the right outcome).

Then every miss (an answerable question abstained on or answered without its gold, an
unanswerable question answered) with the first 120 characters of the answer. Before asking,
each gold is checked to be verbatim in the indexed text of its file.

This set is for measuring only: never tune a threshold or model on it (the paraphrase set,
tests/data/paraphrase_questions.jsonl, is the calibration set).

    PYTHONPATH=. .venv/bin/python benchmarks/eval_own_set.py [--json PATH] [--engine NAME]
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "tests/data/own_set"
PDFS = ROOT.parent / "shared/eval/pdfs"
COPIED = {"crocus-city-hall-attack.txt": ROOT / "seeds/crocus-city-hall-attack.txt",
          "multi_page.pdf": PDFS / "multi_page.pdf",
          "federal-register-2020-17221.pdf": PDFS / "federal-register-2020-17221.pdf"}
CLASSES = ("answerable", "unanswerable")


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def build_docx(md: Path, out: Path) -> None:
    """A .docx from the report's text: "# " the title, "## " a Heading 1 (and so on),
    "- " a bulleted paragraph, any other line a paragraph."""
    import docx

    doc = docx.Document()
    for line in md.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            doc.add_heading(line.lstrip("#").strip(), level=level - 1)
        elif line.startswith("- "):
            doc.add_paragraph(line[2:], style="List Bullet")
        else:
            doc.add_paragraph(line)
    doc.save(out)


def build_xlsx(table: Path, out: Path) -> None:
    """A one-sheet .xlsx ("Budget") from the CSV; whole numbers are stored as numbers."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    with table.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            sheet.append([int(c) if c.isdigit() else (c or None) for c in row])
    book.save(out)


def build_folder(docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    for name, src in COPIED.items():
        shutil.copyfile(src, docs / name)
    build_docx(SET / "office_report.md", docs / "office_report.docx")
    build_xlsx(SET / "office_budget.csv", docs / "office_budget.xlsx")


def indexed_text(idx) -> dict[str, str]:
    """File name -> the indexed text of all its pages, whitespace-normalised, lower case."""
    out = {}
    for d in idx.documents():
        if d.status == "indexed":
            out[Path(d.path).name] = norm(" ".join(idx.page_text(d.path, p)
                                                   for p in range(1, d.pages + 1)))
    return out


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def table(results: list[dict]) -> list[dict]:
    """One row per (file, class), then one per class over all files."""
    files = list(dict.fromkeys(r["file"] for r in results))
    groups = [(f, c) for f in files for c in CLASSES] + [("ALL", c) for c in CLASSES]
    rows = []
    for f, c in groups:
        rs = [r for r in results if r["class"] == c and f in ("ALL", r["file"])]
        if not rs:
            continue
        row = {"file": f, "class": c, "n": len(rs),
               "abstained": sum(r["abstained"] for r in rs) / len(rs)}
        if c == "answerable":
            row["answer_has_gold"] = sum(r["has_gold"] for r in rs) / len(rs)
            row["first_sentence_has_gold"] = sum(r["first_has_gold"] for r in rs) / len(rs)
        row["abstention_reasons"] = dict(Counter(r["reason"] for r in rs if r["reason"]))
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'file':34} {'class':13} {'n':>3} {'abstained':>10} {'has gold':>9} "
          f"{'1st sent.':>9}")
    for r in rows:
        if r["file"] == "ALL" and r["class"] == CLASSES[0]:
            print("-" * 83)
        gold = (f"{100 * r['answer_has_gold']:8.1f}% {100 * r['first_sentence_has_gold']:8.1f}%"
                if "answer_has_gold" in r else f"{'-':>9} {'-':>9}")
        print(f"{r['file']:34} {r['class']:13} {r['n']:3d} {100 * r['abstained']:9.1f}% {gold}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="PATH", help="write the figures and every answer here")
    ap.add_argument("--engine", default="extractive", help="answer engine (default: extractive)")
    args = ap.parse_args()

    from rag.answer import ask
    from rag.index import Index
    from rag.settings import Settings

    rows = [json.loads(ln) for ln in (SET / "questions.jsonl").read_text(encoding="utf-8")
            .splitlines() if ln.strip()]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docchat-own-set-") as tmp:
        docs, root = Path(tmp) / "docs", Path(tmp) / "index"
        build_folder(docs)
        settings = Settings.from_env().replace(index_dir=str(root), engine=args.engine)
        idx = Index.open(root, settings, create=True)
        summary = idx.update([docs])
        if summary.skipped:
            print("skipped while indexing:", [(s.path, s.reason) for s in summary.skipped])
        texts = indexed_text(idx)
        bad_gold = [r for r in rows if r["class"] == "answerable"
                    and norm(r["gold"]) not in texts.get(r["file"], "")]
        for r in bad_gold:
            print(f"GOLD NOT IN INDEXED TEXT: {r['file']}: {r['gold']!r} ({r['question']})")
        print(f"indexed {len(texts)} files in {time.perf_counter() - t0:.0f}s; asking "
              f"{len(rows)} questions with the {args.engine} engine")
        results = []
        for r in rows:
            a = ask(idx, r["question"])
            first = a.sentences[0].text if a.sentences else ""
            gold = norm(r.get("gold", ""))
            results.append({
                **{k: r[k] for k in ("file", "question", "class")}, "gold": r.get("gold", ""),
                "abstained": a.abstained,
                "reason": a.abstention.value if a.abstention else None,
                "has_gold": bool(gold) and not a.abstained and gold in norm(a.answer),
                "first_has_gold": bool(gold) and not a.abstained and gold in norm(first),
                "answer": a.answer, "evidence": a.evidence, "confidence": a.confidence,
                "cited_files": sorted({Path(a.sources[n - 1].path).name for s in a.sentences
                                       for n in s.citations if 0 < n <= len(a.sources)})})
    figures = table(results)
    print()
    print_table(figures)
    misses = [r for r in results if (r["class"] == "answerable" and not r["has_gold"])
              or (r["class"] == "unanswerable" and not r["abstained"])]
    print(f"\n{len(misses)} misses:")
    for r in misses:
        got = (f"[abstained: {r['reason']}]" if r["abstained"]
               else " ".join(r["answer"].split())[:120])
        want = f"gold {r['gold']!r}" if r["class"] == "answerable" else "should abstain"
        print(f"- [{r['file']}] {r['question']}  ({want})\n    -> {got}")
    print(f"\n{time.perf_counter() - t0:.0f}s in all")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "engine": args.engine, "questions": len(rows), "table": figures,
            "gold_not_in_text": [r["question"] for r in bad_gold],
            "results": results}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if bad_gold else 0


if __name__ == "__main__":
    sys.exit(main())
