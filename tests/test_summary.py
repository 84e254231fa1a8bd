"""Cited summaries of whole documents (issue 22): invariants, not wording. Every sentence is
verbatim in its cited passage, which is verbatim in its page; the sentences keep document
order, cover the sections, are never headings and never repeat one another."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import DocchatError, NotFoundError
from rag.index import Index
from rag.settings import Settings
from rag.answering.summary import summarise

pytestmark = pytest.mark.slow  # the real model embeds the candidate sentences

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "Harbour": "The harbour of Vantor handles timber from the northern forests. Its four "
               "cranes lift about nine thousand containers a year. The quay was rebuilt in "
               "2019 after a winter storm broke its eastern wall.",
    "Railway": "A single-track railway links the harbour to the paper mill. Trains run twice "
               "a day and carry pulp back to the quay. The line was electrified in 2021 to "
               "cut the mill's diesel costs.",
    "Schools": "The town has two primary schools and one secondary school. Pupils from the "
               "islands come by ferry every Monday and board during the week. The secondary "
               "school teaches forestry as an elective subject.",
    "Festival": "Every August the town holds a lantern festival on the river. Boats carry "
                "paper lanterns made at the mill from the harbour to the old bridge. The "
                "festival ends with music in the market square.",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("summary")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "vantor.md").write_text("# Vantor\n\n" + "".join(
        f"## {h}\n\n{t}\n\n" for h, t in SECTIONS.items()), encoding="utf-8")
    (docs / "empty-ish.md").write_text("# Only a title\n\n## And a heading\n", encoding="utf-8")
    (docs / "crocus.txt").write_text((ROOT / "seeds" / "crocus-city-hall-attack.txt")
                                     .read_text(encoding="utf-8"), encoding="utf-8")
    idx = Index(tmp / "index", Settings(index_dir=str(tmp / "index")))
    idx.update([docs])
    return idx, docs


def assert_cited_verbatim(idx, summary):
    assert summary.sentences and not summary.abstained
    by_n = {s.n: s for s in summary.sources}
    for sent in summary.sentences:
        (n,) = sent.citations
        src = by_n[n]
        page = idx.page_text(src.path, src.page)
        assert page[src.start:src.end] == src.text  # the passage is the page's text
        assert sent.text in src.text  # the sentence is verbatim in its passage
        assert any(page[a:b] == sent.text for a, b in src.highlights)  # and marked exactly


def test_a_sectioned_document_gets_a_sentence_from_every_section_in_order(index):
    idx, docs = index
    s = summarise(idx, [str(docs / "vantor.md")], sentences=4)
    assert_cited_verbatim(idx, s)
    assert len(s.sentences) == 4
    sections = [next(h for h, t in SECTIONS.items() if x.text in t) for x in s.sentences]
    assert sections == list(SECTIONS)  # one per section, in document order
    assert not any(x.text.startswith("#") or x.text in SECTIONS for x in s.sentences)
    assert s.scope == (str(docs / "vantor.md"),) and s.question == "Summary of vantor.md"


def test_the_seed_summary_keeps_order_and_has_no_near_duplicates(index):
    idx, docs = index
    s = summarise(idx, [str(docs / "crocus.txt")])
    assert_cited_verbatim(idx, s)
    assert len(s.sentences) == 8
    text = (docs / "crocus.txt").read_text(encoding="utf-8")
    where = [text.index(x.text) for x in s.sentences]
    assert where == sorted(where)
    vecs = idx.embedder().encode([x.text for x in s.sentences])
    sims = vecs @ vecs.T - np.eye(len(vecs)) * 2
    assert float(sims.max()) <= 0.85
    assert "133" in s.answer  # the lead fact of the article is in it


def test_several_documents_are_each_covered(index):
    idx, docs = index
    s = summarise(idx, [str(docs / "vantor.md"), str(docs / "crocus.txt")], sentences=6)
    assert_cited_verbatim(idx, s)
    assert {Path(src.path).name for src in s.sources} == {"vantor.md", "crocus.txt"}


def test_bad_requests_are_one_clear_line(index):
    idx, docs = index
    with pytest.raises(DocchatError, match="no text to summarise"):
        summarise(idx, [str(docs / "empty-ish.md")])
    with pytest.raises(NotFoundError, match="no indexed document"):
        summarise(idx, [str(docs / "missing.md")])
    with pytest.raises(DocchatError, match="1 to 20 sentences"):
        summarise(idx, [str(docs / "crocus.txt")], sentences=0)
