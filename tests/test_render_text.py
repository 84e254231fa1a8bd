"""An answer as the terminal prints it (rag/render_text.py): the sentences with their markers,
then each numbered source with its place, the cited words quoted verbatim from the page."""
from __future__ import annotations

from conftest import ROOT

from rag.render_text import SNIPPET, render_answer
from rag.types import Answer, Sentence, Source

SEED = ROOT / "seeds" / "crocus-city-hall-attack.txt"
PAGE = SEED.read_text(encoding="utf-8")
CITED = "The attackers, identified as having affiliations with the Islamic State (IS) group"
FLEE = "The four gunmen, reportedly attempting to flee to Ukraine, were apprehended"


def source(n: int, needle: str, length: int = 600, highlights=(), path: str = str(SEED),
           **kw) -> Source:
    """Source ``n``: a passage of the seed page starting at ``needle`` (page offsets)."""
    start = PAGE.index(needle)
    end = min(len(PAGE), start + length)
    return Source(n=n, path=path, page=1, start=start, end=end, text=PAGE[start:end],
                  score=0.5, highlights=highlights, **kw)


def span_of(sentence_start: str, until: str) -> tuple[int, int]:
    a = PAGE.index(sentence_start)
    return a, PAGE.index(until, a) + len(until)


def shown_under(text: str, n: int) -> str:
    """The lines printed under source ``n``'s line, joined without their wrapping."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"[{n}] "))
    below = []
    for line in lines[at + 1:]:
        if not line.startswith(" "):
            break
        below.append(line.strip())
    return " ".join(below)


def answer(sentences, sources, **kw) -> Answer:
    return Answer(question="Who were the attackers?", answer=" ".join(s.text for s in sentences),
                  abstained=False, sentences=tuple(sentences), sources=tuple(sources), **kw)


def test_cited_sentences_carry_their_markers_and_an_unsupported_one_is_flagged():
    text = render_answer(answer([Sentence("They were linked to IS.", (1, 2)),
                                 Sentence("They fled by car.", (), supported=False)],
                                [source(1, CITED), source(2, FLEE)]))
    first = text.split("\n\n")[0]
    assert "They were linked to IS. [1][2]" in first
    assert "They fled by car. (unsupported: no passage backs this sentence)" in " ".join(first.split())


def test_one_space_stands_before_the_unsupported_flag_with_or_without_markers():
    flag = "(unsupported: no passage backs this sentence)"
    alone = render_answer(answer([Sentence("They fled by car.", (), supported=False)], []))
    assert alone == f"They fled by car. {flag}"
    marked = render_answer(answer([Sentence("They fled.", (1,), supported=False)], []))
    assert marked == f"They fled. [1] {flag}"


def test_a_cited_source_quotes_its_highlight_verbatim_from_page_offsets():
    """Highlights are page offsets and the passage starts deep in the page: the quote is the
    page's own words, not a slice shifted by the passage's start."""
    a, b = span_of(FLEE, "apprehended")
    src = source(1, CITED, length=900, highlights=((a, b),))
    assert src.start > 500
    text = render_answer(answer([Sentence("The gunmen were caught.", (1,))], [src]))
    assert shown_under(text, 1) == f'"{PAGE[a:b]}"'


def test_an_uncited_source_shows_a_folded_snippet_cut_at_the_limit():
    cited = source(1, CITED, highlights=(span_of(CITED, "group"),))
    uncited = source(2, "Russian President Vladimir Putin", length=2000)
    text = render_answer(answer([Sentence("They were linked to IS.", (1,))], [cited, uncited]))
    folded = " ".join(uncited.text.split())
    assert shown_under(text, 2).split() == (folded[:SNIPPET] + "…").split()


def test_each_source_line_names_number_file_place_offsets_and_score(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "docs" / "budget.csv"
    row = "Row 4: Item: Tram; Cost: 9"
    src = Source(n=3, path=str(inside), page=1, start=10, end=10 + len(row), text=row,
                 score=0.25, label="sheet Budget")
    pdf = source(1, CITED, path="/elsewhere/report.pdf", label="47 [OCR]")
    text = render_answer(answer([Sentence("It cost 9.", (3,))], [pdf, src]))
    assert "[1] /elsewhere/report.pdf, page 1 (printed 47), OCR text, chars" in text
    assert "[3] docs/budget.csv, sheet Budget, row 4, chars 10-36, score 0.250" in text


def test_an_abstention_shows_its_sentence_and_the_closest_passages():
    a = Answer(question="Who owns the hall?", answer="The documents do not say who owns it.",
               abstained=True, sources=(source(1, CITED),))
    text = render_answer(a)
    assert text.startswith("The documents do not say who owns it.")
    assert "Closest passages:" in text and "Sources:" not in text


def test_a_scoped_answer_names_at_most_five_documents_and_counts_the_rest():
    scope = tuple(f"/docs/file-{i}.pdf" for i in range(7))
    text = render_answer(answer([Sentence("They were linked to IS.", (1,))], [source(1, CITED)],
                                scope=scope))
    assert ("Searched only: /docs/file-0.pdf, /docs/file-1.pdf, /docs/file-2.pdf, "
            "/docs/file-3.pdf, /docs/file-4.pdf and 2 more") in text
    summary = render_answer(answer([Sentence("A summary.", (1,))], [source(1, CITED)],
                                   scope=scope[:1], engine="extractive-summary"))
    assert "Summary of: /docs/file-0.pdf\n" in summary and "more" not in summary


def test_a_long_answer_is_wrapped_without_losing_a_word():
    sentences = [Sentence(s, (1,)) for s in (FLEE + ".", CITED + ".", PAGE[:300])]
    text = render_answer(answer(sentences, [source(1, CITED)]))
    body = text.split("\n\n")[0].splitlines()
    assert len(body) > 1 and all(len(line) <= 100 for line in body)
    want = " ".join(f"{s.text} [1]" for s in sentences).split()
    assert " ".join(body).split() == want
