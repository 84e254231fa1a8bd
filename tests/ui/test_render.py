"""Answer -> HTML: escaping, citation links, highlights, unsupported and abstained answers.
The HTML is parsed back (html.parser) so the assertions are about what a browser would see."""
from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from rag.types import CANNOT_ANSWER, Answer, Document, Sentence, Source
from ui.render import (answer_html, library_html, passage_html, reflow, sources_html,
                       text_html)

PAYLOAD = "<script>alert('x')</script> <img src=x onerror=\"alert(1)\"> *bold* [2] a_b_c"


class Parsed(HTMLParser):
    """Tags, attributes and the visible text of an HTML fragment."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""
        self.marks: list[str] = []
        self._in_mark = 0
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_mark += tag == "mark"
        if tag == "mark":
            self.marks.append("")

    def handle_endtag(self, tag):
        self._in_mark -= tag == "mark"

    def handle_data(self, data):
        self.text += data
        if self._in_mark:
            self.marks[-1] += data


def source(n=1, text="Alpha beta. The hall burned. Gamma delta.", start=100, highlights=()):
    return Source(n=n, path=f"/docs/file{n}.txt", page=3, start=start, end=start + len(text),
                  text=text, score=0.5, highlights=highlights)


def answer(sentences, sources, abstained=False):
    return Answer(question="q", answer="a", abstained=abstained, sentences=tuple(sentences),
                  sources=tuple(sources))


def test_document_text_is_shown_literally_and_creates_no_elements():
    src = source(text=PAYLOAD, highlights=((100, 120),))
    html = sources_html(answer([Sentence(PAYLOAD, (1,))], [src]))
    page = Parsed(html)
    assert PAYLOAD in page.text
    assert not [t for t, _ in page.tags if t in ("script", "img")]
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)
    chat = Parsed(answer_html(answer([Sentence(PAYLOAD, (1,))], [src])))
    assert PAYLOAD in chat.text and not [t for t, _ in chat.tags if t in ("script", "img")]


def test_markdown_and_entities_survive_escaping_unchanged():
    text = "Russia's 'war' & \"peace\" cost $5 *a* _b_ `c` #d [1] ~e~ |f| \\g"
    assert Parsed(text_html(text)).text == text
    bare = re.sub(r"&#\d+;", "", text_html(text))  # what is left outside the entities
    assert not set("*_`[]#~|$\\<>'\"") & set(bare)  # nothing for Markdown or HTML to act on


def test_every_marker_links_to_its_own_answers_source_panel_entry():
    srcs = [source(1), source(2, start=900)]
    first = answer([Sentence("One.", (1,)), Sentence("Two.", (2, 1))], srcs)
    second = answer([Sentence("Three.", (1,))], [source(1, start=50)])
    links = [[attrs["href"] for t, attrs in Parsed(answer_html(a, turn)).tags if t == "a"]
             for turn, a in enumerate([first, second])]
    assert links == [["#src-0-1", "#src-0-2", "#src-0-1"], ["#src-1-1"]]
    panel = Parsed(sources_html([first, second]))
    ids = [attrs["id"] for t, attrs in panel.tags if attrs.get("id", "").startswith("src-")]
    assert ids == ["src-0-1", "src-0-2", "src-1-1"]  # every link has exactly one target


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


def test_unsupported_sentence_is_flagged():
    chat = Parsed(answer_html(answer([Sentence("Backed.", (1,)),
                                      Sentence("Made up.", (), supported=False)], [source()])))
    classes = [attrs.get("class", "") for _, attrs in chat.tags]
    assert sum("dc-unsupported" in c for c in classes) == 1
    assert "unsupported" in chat.text


def test_abstention_is_labelled_and_sources_called_closest_passages():
    a = Answer(question="q", answer=CANNOT_ANSWER, abstained=True, sources=(source(),))
    assert CANNOT_ANSWER in Parsed(answer_html(a)).text
    assert "No answer found" in Parsed(answer_html(a)).text
    panel = Parsed(sources_html(a)).text
    assert "Closest passages" in panel and "closest, not an answer" in panel


def test_library_escapes_names_paths_and_reasons_and_filters_by_name():
    evil = '<img src=x onerror="alert(1)">.md'
    docs = [Document(id="a1", path=f"/home/u/{evil}", name=evil, type="md", pages=1,
                     chunks=2, size=2048, indexed_at="2026-11-26T00:21:15+00:00"),
            Document(id="b2", path="/up/scan.pdf", name="scan.pdf", type="pdf",
                     status="skipped", reason="corrupt PDF: <b>bad</b> xref")]
    table = Parsed(library_html(docs))
    assert {t for t, _ in table.tags} <= {"div", "table", "thead", "tbody", "tr", "th", "td", "span"}
    assert evil in table.text and "corrupt PDF: <b>bad</b> xref" in table.text
    assert "2.0 KiB" in table.text and "2026-11-26 00:21" in table.text
    assert "scan.pdf" not in Parsed(library_html(docs, "IMG")).text
    assert "No documents match" in Parsed(library_html(docs, "nothing")).text


def test_a_draft_is_shown_without_its_passage_rank_markers():
    from ui.render import draft_html

    html = draft_html("Tides rise [3]. Crabs <run> [1, 2].", "Checking…")
    assert "[" not in html and "&#91;" not in html  # the verified answer numbers them
    assert "Tides rise. Crabs &#60;run&#62;." in html and "Checking…" in html


def test_the_marked_answer_is_bold_inside_its_sentence_and_escaped():
    from rag.types import Answer, AnswerSpan, Sentence, Source
    from ui.render import answer_html

    src = Source(1, "a.txt", 1, 0, 40, "The <b>hall</b> held 6,200 people.", 1.0,
                 highlights=((0, 34),))
    s = Sentence("The <b>hall</b> held 6,200 people.", (1,), True, AnswerSpan("6,200", 1, 21, 26))
    html = answer_html(Answer("How many?", "x [1]", False, (s,), (src,)))
    assert '<strong class="dc-span">6,200</strong>' in html
    assert "<b>" not in html and "&#60;b&#62;hall" in html


def test_a_name_with_a_right_to_left_override_cannot_pose_as_another_name():
    """Issue 20, item 14: "invoice<U+202E>fdp.exe" displays as "invoiceexe.pdf" unless the
    override is shown; the library, the sources and skipped lines show it escaped."""
    from rag.index import _document
    from rag.types import Skipped
    from ui.library_text import _skipped_line as skipped_md
    from ui.render import library_html, name_html

    doc = _document("/docs/invoice\u202efdp.exe", size=1, indexed_at="", pages=1, chunks=1)
    assert doc.name == "invoice<U+202E>fdp.exe" and doc.path.endswith("\u202efdp.exe")
    for shown in (library_html([doc], ""), name_html(doc.path),
                  skipped_md(Skipped("/docs/a\u2066b\u200b.txt", "empty"))):
        assert not any(c in shown for c in "\u202e\u2066\u200b"), shown
    assert "&#60;U+2066&#62;" in skipped_md(Skipped("/docs/a\u2066b.txt", "empty"))


def test_a_user_name_typed_decomposed_logs_in_as_the_composed_one():
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from ui.api_auth import basic_auth

    app = FastAPI()

    @app.get("/x", dependencies=[Depends(basic_auth(("Ren\u00e9", "pw")))])
    def x():
        return {"ok": True}
    client = TestClient(app)
    assert client.get("/x", auth=("Rene\u0301".encode().decode(), "pw")).status_code == 200
    assert client.get("/x", auth=("Rene", "pw")).status_code == 401


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
