"""Structural lines (titles, headings, TOC lines, lone page numbers) are recorded by the
loaders, stay units of their own through sentence splitting and chunking, and give chunks
their heading path. Real files written to tmp_path, and the real PDFs of ../shared/eval."""
from __future__ import annotations

from pathlib import Path

from conftest import SHARED_EVAL, need_shared

from rag.ingest.chunking import chunk_pages, index_text
from rag.embedding.model_files import token_offsets
from rag.answering.evidence import passage_sentences
from rag.ingest.loaders import load
from rag.settings import DEFAULT_MODEL
from rag.types import Hit

PDFS = SHARED_EVAL / "pdfs"
STORY = ("Snow White and the Huntsman\n\n"
         "Snow White and the Huntsman is a 2012 American fantasy film. It was directed by "
         "Rupert Sanders.\n\nProduction\n\nFilming took place in England. The budget was "
         "170 million dollars.\n")


def lines(page) -> list[tuple[int, str]]:
    return [(level, page.text[s:e]) for s, e, level in page.structure]


def test_markdown_headings_are_recorded_with_their_level(tmp_path: Path):
    f = tmp_path / "notes.md"
    f.write_text("# Field notes\n\nIntro text. More text.\n\n## Rivers\nRivers flow.\n"
                 "Not # a heading.\n")
    [page] = load(f)
    assert lines(page) == [(1, "# Field notes"), (2, "## Rivers")]


def test_text_title_and_lone_headings_are_recorded(tmp_path: Path):
    f = tmp_path / "film.txt"
    f.write_text(STORY)
    [page] = load(f)
    assert lines(page) == [(0, "Snow White and the Huntsman"), (2, "Production")]


def test_a_prose_first_line_is_not_a_title(tmp_path: Path):
    f = tmp_path / "prose.txt"
    f.write_text("The film was released in 2012.\n\nIt earned 396 million dollars.\n")
    assert load(f)[0].structure == ()


def test_structural_lines_of_a_passage_are_marked_and_never_answer_alone(tmp_path: Path):
    f = tmp_path / "film.txt"
    f.write_text(STORY)
    [page] = load(f)
    hit = Hit(chunk_id=1, path=str(f), page=1, start=0, end=len(page.text), text=page.text,
              score=1.0, structure=page.structure)
    sents = passage_sentences([hit])
    assert [s.text for s in sents if s.structural] == ["Snow White and the Huntsman",
                                                       "Production"]
    assert all(page.text[s.start:s.end] == s.text for s in sents)


def test_chunks_carry_the_heading_path_and_keep_exact_offsets(tmp_path: Path):
    f = tmp_path / "guide.md"
    body = " ".join(f"Sentence {i} about the pump and its valve." for i in range(30))
    f.write_text(f"# Pump manual\n\n## Valves\n\n{body}\n\n## Seals\n\n{body}\n")
    pages = load(f)
    chunks = chunk_pages(pages, token_offsets(DEFAULT_MODEL), 60, 10)
    assert chunks[0].context == ""  # it starts with the headings themselves
    later = [c for c in chunks if c.start > pages[0].text.index("## Seals")]
    assert later and all(c.context == "Pump manual > Seals" for c in later)
    mid = [c for c in chunks if pages[0].text.index("## Valves") < c.start
           < pages[0].text.index("## Seals")]
    assert mid and all(c.context == "Pump manual > Valves" for c in mid)
    for c in chunks:
        assert c.text == pages[0].text[c.start:c.end]
        assert index_text(c).endswith(c.text.strip())
        assert all(c.start <= s and e <= c.end for s, e, _ in c.structure)


def test_pdf_table_of_contents_lines_and_page_numbers_are_structural():
    pages = load(need_shared(PDFS / "GeoTopo-komprimiert.pdf"))
    toc = [t for p in pages for lv, t in lines(p) if lv == 9]
    assert any("Metrische Räume . . . ." in t for t in toc)
    assert sum(t.strip().isdigit() for t in toc) >= 10  # lone page numbers


def test_pdf_section_headings_are_found_without_prose_lines():
    pages = load(need_shared(PDFS / "federal-register-2020-17221.pdf"))
    heads = [t for p in pages for lv, t in lines(p) if lv == 2]
    assert {"Background", "Costs of Compliance", "Regulatory Findings"} <= set(heads)
    for p in pages:  # a heading is a whole line, never a piece of a sentence
        for s, e, _ in p.structure:
            assert (s == 0 or p.text[s - 1] in " \n") and (e == len(p.text) or
                                                           p.text[e] in " \n")


def test_a_pdf_heading_on_a_short_page_is_not_glued_to_the_sentence_after_it(tmp_path):
    """Issue 19 item 9: a reportlab heading above a 3-line paragraph came out glued to the
    answer ("... Page One: Overview The Kestrel Point lighthouse ..."): the page's median
    line, pulled down by the paragraph's short last line, made the heading look long."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    from rag.ingest.loaders import load
    from rag.sentences import sentence_spans

    st = getSampleStyleSheet()
    path = tmp_path / "survey.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build([
        Paragraph("Harbor Lighthouse Survey - Page One: Overview", st["Heading1"]),
        Paragraph("The Kestrel Point lighthouse was built in 1887 and painted white with a red "
                  "band. It has been automated since 1962, and the keeper's cottage is now a "
                  "small museum open in the summer months. Visitors climb 112 steps.",
                  st["Normal"])])
    page = load(path)[0]
    sentences = [page.text[s:e].strip() for s, e in sentence_spans(page.text, page.structure)]
    assert sentences[0] == "Harbor Lighthouse Survey - Page One: Overview"
    assert sentences[1].startswith("The Kestrel Point lighthouse was built in 1887")
