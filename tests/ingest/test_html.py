"""A file that takes longer than its reading budget is skipped with the reason: a PDF here
(HTML's own tests, its budget included, are in test_html_text.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.ingest.loaders import load


def test_a_pdf_that_takes_longer_than_the_budget_is_skipped_with_the_reason(monkeypatch):
    from conftest import make_pdf

    monkeypatch.setenv("DOCCHAT_READ_SECONDS", "0.000001")
    with pytest.raises(LoadError, match=r"took longer than 1e-06 s to read"):
        load(Path("long.pdf"), make_pdf([f"Page {i} text." for i in range(20)]))
