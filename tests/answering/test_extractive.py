"""The extractive engine's guarantee, as an invariant: every answer sentence is a verbatim span
of the passage it cites (its highlight), and never a structural line. Checked over a sample of
SQuAD 2.0 questions (gold paragraph + its neighbours as the passages) and over the real PDFs.
Whitespace is compared collapsed: an answer sentence is shown on one line."""
from __future__ import annotations

import random

import pytest
from conftest import SHARED_EVAL, need_shared

from rag.answer import answer_stream
from rag.ingest.chunking import chunk_pages
from rag.embedding.local import Embedder
from rag.embedding.model_files import token_offsets
from rag.engines.extractive import ExtractiveEngine
from rag.evaluation.runs import load_squad
from rag.answering.evidence import build_evidence, passage_sentences
from rag.ingest.loaders import load
from rag.settings import DEFAULT_MODEL, Settings
from rag.types import Answer, Hit

pytestmark = pytest.mark.slow
SQUAD = SHARED_EVAL / "squad2" / "dev-v2.0.json"
PDFS = ["federal-register-2020-17221.pdf", "GeoTopo-komprimiert.pdf", "multi_page.pdf",
        "multicolumn.pdf", "Seige_of_Vicksburg_Sample_OCR.pdf"]
SQUAD_SAMPLE = 60  # bounded so the test stays within a minute or two on an idle machine
PDF_SAMPLE = 6  # chunks per PDF
SETTINGS = Settings(abstain_threshold=0.0, checker_threshold=1e-6)  # answer everything: the
# invariant is the point (the answer checker still picks the opening sentence)


def flat(text: str) -> str:
    return " ".join(text.split())


def run(question: str, hits: list[Hit]) -> Answer:
    ev = build_evidence(Embedder.shared(DEFAULT_MODEL), question, hits)
    events = list(answer_stream(ev, ExtractiveEngine(SETTINGS), (), SETTINGS))
    assert isinstance(events[-1], Answer)
    return events[-1]


def check_verbatim(answer: Answer, pages: dict[tuple[str, int], str]) -> int:
    """Assert the invariant for every sentence; return how many were checked."""
    for s in answer.sentences:
        assert s.supported and len(s.citations) == 1, s
        [src] = [x for x in answer.sources if x.n == s.citations[0]]
        page = pages[(src.path, src.page)]
        assert page[src.start:src.end] == src.text
        spans = [flat(page[a:b]) for a, b in src.highlights]
        assert s.text in spans, (s.text, spans)
        assert all(src.start <= a < b <= src.end for a, b in src.highlights)
    return len(answer.sentences)


def test_every_extractive_sentence_is_verbatim_in_its_cited_passage_on_squad():
    paragraphs, questions = load_squad(need_shared(SQUAD))
    ids = sorted(paragraphs)
    picked = random.Random(7).sample(questions, SQUAD_SAMPLE)
    checked = 0
    for q in picked:
        i = ids.index(q["pid"])
        near = [p for p in ids[max(0, i - 2):i + 3] if p[:3] == q["pid"][:3]]
        hits = [Hit(chunk_id=n, path=f"/squad/{p}.txt", page=1, start=0,
                    end=len(paragraphs[p]), text=paragraphs[p], score=1.0 / (n + 1))
                for n, p in enumerate(sorted(near, key=lambda p: p != q["pid"]))]
        pages = {(h.path, 1): h.text for h in hits}
        checked += check_verbatim(run(q["question"], hits), pages)
    assert checked >= SQUAD_SAMPLE


@pytest.mark.parametrize("name", PDFS)
def test_every_extractive_sentence_is_verbatim_in_its_cited_passage_on_real_pdfs(name):
    pages = load(need_shared(SHARED_EVAL / "pdfs" / name))
    chunks = chunk_pages(pages, token_offsets(DEFAULT_MODEL), 200, 40)
    by_page = {p.page: p for p in pages}
    path = str(SHARED_EVAL / "pdfs" / name)
    hits = [Hit(chunk_id=n, path=path, page=c.page, start=c.start, end=c.end, text=c.text,
                score=1.0, structure=c.structure) for n, c in enumerate(chunks)]
    rng = random.Random(3)
    checked = 0
    for n in sorted(rng.sample(range(len(hits)), min(PDF_SAMPLE, len(hits)))):
        prose = [s for s in passage_sentences([hits[n]]) if not s.structural]
        if not prose:
            continue
        question = " ".join(rng.choice(prose).text.split()[:10]) + "?"
        window = hits[n:n + 5]
        answer = run(question, window)
        checked += check_verbatim(answer, {(path, p): by_page[p].text for p in by_page})
        lines = {flat(by_page[h.page].text[a:b]) for h in window for a, b, _ in h.structure}
        assert not any(s.text in lines for s in answer.sentences), "a structural line answered"
    assert checked > 0
