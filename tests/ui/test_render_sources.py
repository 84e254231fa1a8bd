"""Answer -> HTML for the Sources panel (ui/render_sources.py): highlights, trimming, PDF
reflow, Markdown line markers, rank and relevance labels. The HTML is parsed back
(tests/ui/html_view.py) so the assertions are about what a browser would see."""
from __future__ import annotations

import dataclasses

from html_view import Parsed, answer, source
from rag.types import CANNOT_ANSWER, Sentence
from ui.render_chat import answer_html
from ui.render_sources import passage_html, reflow, sources_html


def test_pdf_passages_are_reflowed_for_display_only():
    text = "The FAA-\napproved infor-\nmation was\nfiled.\n\nNext paragraph."
    assert reflow(text) == "The FAA-approved information was filed.\n\nNext paragraph."
    pdf = source(text=text, start=0, highlights=((9, 31),))  # "approved infor-\nmation"
    pdf = dataclasses.replace(pdf, path="/docs/manual.pdf")
    shown = Parsed(passage_html(pdf))
    assert shown.marks == ["approved information"]
    assert "\n" not in shown.text.split("\n\n")[0]
    txt = dataclasses.replace(pdf, path="/docs/notes.txt")  # other formats: shown as stored
    assert Parsed(passage_html(txt)).text == text


def test_relevance_is_a_plain_label_with_rank_and_detail_on_hover():
    panel = Parsed(sources_html(answer([Sentence("One.", (1,))], [source(1)])))
    assert "retrieval rank 1 of 1" in panel.text and "relevance high" in panel.text
    assert "score" not in panel.text and "chars" not in panel.text
    titles = [attrs.get("title", "") for _, attrs in panel.tags]
    assert any("retrieval score" in t for t in titles)


def test_relevance_labels_follow_the_retrieval_scores_and_an_abstention_has_none():
    """Issue 19, item 6: "rank 1 low" was shown above "rank 2 high" (the panel lists cited
    sources first), and passages under an abstention were labelled "high"."""
    srcs = [dataclasses.replace(source(1), n=1, score=0.2),  # cited, but retrieved lower
            dataclasses.replace(source(2), n=2, score=0.9)]
    heads = [h.strip() for h in Parsed(sources_html(answer([Sentence("One.", (1,))], srcs)))
             .text.split("[")[1:]]
    assert "retrieval rank 2 of 2 · relevance low · cited" in heads[0], heads
    assert "retrieval rank 1 of 2 · relevance high" in heads[1], heads
    gave_up = dataclasses.replace(answer([], srcs), abstained=True, answer=CANNOT_ANSWER)
    text = Parsed(sources_html(gave_up)).text
    assert "relevance" not in text and text.count("closest, not an answer") == 2


def test_cited_span_is_highlighted_exactly():
    src = source(highlights=((112, 128),))  # page offsets of "The hall burned."
    assert Parsed(passage_html(src)).marks == ["The hall burned."]
    overlapping = source(highlights=((112, 120), (116, 128), (5, 6)))
    assert Parsed(passage_html(overlapping)).marks == ["The hall burned."]


def test_long_passage_is_trimmed_around_the_highlight():
    text = "Filler words here. " * 100 + "The key fact is 42. " + "More filler text. " * 100
    at = text.index("The key fact")
    src = source(text=text, start=0, highlights=((at, at + 19),))
    shown = Parsed(passage_html(src))
    assert shown.marks == ["The key fact is 42."]
    assert shown.text.startswith("…") and shown.text.endswith("…")
    assert len(shown.text) < len(text) // 2


def test_markdown_markers_show_as_structure_not_characters():
    """Issue 19, item 9: a "- " bullet in an answer, raw #/## in the source panel."""
    text = "# Mill report\n\n## Staff\n\n- The mill employed 412 workers.\n- It shipped paper."
    src = dataclasses.replace(source(text=text, start=0, highlights=((27, 57),)),
                              path="/docs/mill.md")
    shown = Parsed(passage_html(src))
    assert "#" not in shown.text and "\n- " not in shown.text and "• The mill" in shown.text
    assert shown.marks == ["The mill employed 412 workers."]  # offsets unchanged
    bubble = Parsed(answer_html(answer([Sentence("- The mill employed 412 workers.", (1,))],
                                       [src])))
    assert "- The mill" not in bubble.text and "The mill employed 412 workers." in bubble.text
    txt = dataclasses.replace(src, path="/docs/mill.txt")  # other formats: shown as stored
    assert "# Mill report" in Parsed(passage_html(txt)).text
