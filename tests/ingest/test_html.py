"""HTML text in one linear pass: deep nesting cannot freeze indexing, headings and table
headers are structure, a file that takes too long is skipped with a reason."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, clean_env

from rag.errors import LoadError
from rag.ingest.loaders import load


def test_fifty_thousand_nested_elements_are_read_completely():
    """In a subprocess with a generous limit, so that a regression to quadratic time fails
    this test instead of hanging the suite (the old loader took over 300 s here)."""
    probe = textwrap.dedent("""
        from pathlib import Path
        from rag.ingest.loaders import load
        depth = 50_000
        html = ("<html><body>" + "<div><span>" * depth + "deep words" + "</span></div>" * depth
                + "<p>after the nest</p></body></html>")
        [page] = load(Path("deep.html"), html.encode())
        print(repr(page.text))
    """)
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=clean_env(PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == repr("deep words\nafter the nest")


def test_headings_title_and_table_headers_are_recorded_as_structure():
    html = b"""<html><head><title>Tab</title></head><body><h1>Main</h1><p>Intro.</p>
    <h3>Detail <b>bold</b></h3><table><tr><th>Name</th><th>Age</th></tr>
    <tr><td>Ada</td><td>36</td></tr></table></body></html>"""
    [page] = load(Path("x.html"), html)
    got = [(page.text[s:e], level) for s, e, level in page.structure]
    assert got == [("Main", 1), ("Detail bold", 3), ("Name", 9), ("Age", 9)]
    assert "Tab" not in page.text  # the tab title is not page text when there is a heading


def test_a_page_without_headings_keeps_its_title_as_the_document_title():
    [page] = load(Path("x.html"), b"<title>Opening hours</title><p>Open from 9 to 5.</p>")
    assert page.text == "Opening hours\nOpen from 9 to 5."
    assert page.structure == ((0, len("Opening hours"), 0),)


def test_a_missing_head_end_does_not_hide_the_body():
    [page] = load(Path("x.html"), b"<html><head><title>T</title><body><p>Visible.</p>")
    assert page.text.endswith("Visible.")


def test_a_file_that_takes_longer_than_the_budget_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setenv("DOCCHAT_READ_SECONDS", "0.000001")
    html = ("<p>" + "word " * 100 + "</p>") * 2000  # several feeds: the clock is looked at
    with pytest.raises(LoadError, match=r"took longer than 1e-06 s to read "
                                        r"\(DOCCHAT_READ_SECONDS\)"):
        load(Path("slow.html"), html.encode())


def test_a_pdf_that_takes_longer_than_the_budget_is_skipped_with_the_reason(monkeypatch):
    from conftest import make_pdf

    monkeypatch.setenv("DOCCHAT_READ_SECONDS", "0.000001")
    with pytest.raises(LoadError, match=r"took longer than 1e-06 s to read"):
        load(Path("long.pdf"), make_pdf([f"Page {i} text." for i in range(20)]))
