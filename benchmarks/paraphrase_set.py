"""The paraphrase set (tests/data/paraphrase_questions.jsonl) and an index of its files, for
the training scripts that keep it answered (train_answerability.py, train_reader.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = "crocus-city-hall-attack.txt"


def paraphrase_index(folder: Path, settings):
    """(index of the set's files under ``folder``, the set's rows): the seed article from
    seeds/, the PDFs from ../shared/eval/pdfs."""
    from rag.index import Index

    rows = [json.loads(ln) for ln in (ROOT / "tests/data/paraphrase_questions.jsonl")
            .read_text().splitlines() if ln.strip()]
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name in sorted({r["file"] for r in rows}):
        src = ROOT / "seeds" / name
        if not src.exists():
            src = ROOT.parent / "shared" / "eval" / "pdfs" / name
        if not (docs / name).exists():
            shutil.copyfile(src, docs / name)
    root = folder / "index"
    idx = Index.open(root, settings.replace(index_dir=str(root)), create=True)
    idx.update([docs])
    return idx, rows
