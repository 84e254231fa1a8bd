"""Word, PowerPoint, spreadsheets, CSV and EPUB together, in an index: a folder of good and bad
files indexes the good ones, and each format gives a cited answer naming its place. Each
format's own tests: test_office.py, test_sheets.py, test_epub.py, test_zips.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from office_files import (CSV, make_docx, make_epub, make_pptx, make_xlsx, encrypt_office,
                          zip_bomb)

from rag.index import Index
from rag.ingest.places import place
from rag.settings import Settings
from fakes import HashEmbedder


def test_a_folder_of_good_and_bad_office_files_indexes_the_good_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCCHAT_OFFICE_MAX_EXPANDED_MB", "8")
    docs = tmp_path / "docs"
    docs.mkdir()
    good = {"report.docx": make_docx(), "deck.pptx": make_pptx(), "book.xlsx": make_xlsx(),
            "cities.csv": CSV.encode(), "novel.epub": make_epub()}
    bad = {"locked.docx": encrypt_office(make_docx()), "bomb.docx": zip_bomb("word/x.xml", 9),
           "torn.xlsx": make_xlsx()[:2000], "photos.pptx": make_pptx(images_only=True)}
    for name, data in {**good, **bad}.items():
        (docs / name).write_bytes(data)
    root = tmp_path / "index"
    summary = Index(root, Settings(index_dir=str(root)), embedder=HashEmbedder(dim=8)).update([str(docs)])
    assert sorted(Path(p).name for p in summary.added) == sorted(good)
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert sorted(reasons) == sorted(bad)
    assert all(r.strip() and "\n" not in r for r in reasons.values())


@pytest.mark.slow
def test_each_format_gives_a_cited_answer_naming_its_place(tmp_path):
    from rag import Settings as RagSettings
    from rag import ask
    from rag.index import Index
    from rag.render_text import render_answer

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, data in {"report.docx": make_docx(), "deck.pptx": make_pptx(),
                       "book.xlsx": make_xlsx(), "cities.csv": CSV.encode(),
                       "novel.epub": make_epub()}.items():
        (docs / name).write_bytes(data)
    root = tmp_path / "index"
    idx = Index.open(root, RagSettings.from_env(index_dir=str(root)), create=True)
    idx.update([docs])
    cases = [("What is the oldest bridge in the valley made of?", "report.docx", "granite",
              "page 1"),
             ("What happened to shipping costs after the harbour opened?", "deck.pptx",
              "fell", "slide 2"),
             ("Who is the head of the Marketing department?", "book.xlsx", "Lindqvist",
              "sheet Budget, row"),
             ("Which river flows through Grenoble?", "cities.csv", "Isère", "sheet cities, row"),
             ("Who lit the lamp of the lighthouse every night?", "novel.epub", "Moreau",
              "chapter 2")]
    for question, file, word, where in cases:
        answer = ask(idx, question)
        assert not answer.abstained, question
        cited = {n for s in answer.sentences for n in s.citations}
        sources = [s for s in answer.sources if s.n in cited]
        assert sources and all(Path(s.path).name == file for s in sources), question
        assert word in " ".join(s.text for s in answer.sentences if s.citations), question
        places = [place(s.page, s.label, s.text) for s in sources]
        assert places[0].startswith(where), (question, places)
        assert places[0] in render_answer(answer)
