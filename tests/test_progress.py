"""Upload progress moves during embedding: chunks done / total and a time estimate."""
from __future__ import annotations

import re

import pytest

from rag import indexing
from rag.index import Index
from rag.settings import Settings

pytestmark = pytest.mark.slow  # embeds 60 short chunks with the real model


def test_embedding_reports_progress_per_batch_with_chunks_done_and_an_estimate(tmp_path,
                                                                               monkeypatch):
    """Reports come after encode batches, at most every REPORT_SECONDS (0 here: after every
    batch of 32), never per a fixed number of chunks an upload may not reach."""
    monkeypatch.setattr(indexing, "REPORT_SECONDS", 0)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(100):  # one short chunk each: four batches
        (docs / f"note-{i:03}.txt").write_text(f"Note {i}: the depot stores {i} crates.")
    seen: list[tuple[float, str]] = []
    index = Index.open(tmp_path / "index", Settings(index_dir=str(tmp_path / "index")),
                       create=True)
    summary = index.update([docs], on_progress=lambda f, m: seen.append((f, m)))
    steps = [(f, m) for f, m in seen if m.startswith("embedding:")]
    total = summary.embedded
    assert total == 100 and len(steps) == 4
    done = [int(re.match(r"embedding: (\d+)/(\d+) chunks, about \d+ s left", m).group(1))
            for _, m in steps]
    assert done == sorted(done) and done[-1] == total
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0.1 < steps[0][0] < steps[-1][0] <= 0.9
