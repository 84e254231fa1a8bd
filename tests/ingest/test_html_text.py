"""Visible text of HTML (rag/ingest/formats/html_text.py) in one streaming pass: hidden
elements left out, block elements end a line and inline ones do not, h1-h6 and th recorded
as structure, the <title> kept only when the page has no heading, the clock looked at
between feeds; deep nesting and malformed markup cannot hide or freeze the text."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, clean_env
from test_loaders import HTML, load_bytes

from rag.errors import LoadError
from rag.ingest.formats.html_text import FEED, extract
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


def test_html_gives_the_visible_text_only():
    [page] = load_bytes("page.html", HTML)
    for hidden in ("secret", "color", "comment", "javascript", "template", "svg", "json",
                   "Tab title"):
        assert hidden not in page.text
    assert page.text.splitlines()[0] == "Rivers & Bridges"


def test_html_inline_tags_do_not_break_words_or_sentences():
    lines = load_bytes("page.htm", HTML)[0].text.splitlines()
    assert lines[1:] == ["Water is H2O and links stay inline.", "A new line.", "one", "two"]


def text_of(markup: str) -> str:
    return extract(markup).page("x.html", 1).text


def structure_of(markup: str) -> list[tuple[str, int]]:
    page = extract(markup).page("x.html", 1)
    return [(page.text[s:e], level) for s, e, level in page.structure]


@pytest.mark.parametrize("markup", [
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Notes</title>"
    "<p>The harbour froze in 1911.",
    "<head><title>Notes</title><link rel=stylesheet href=a.css><h1>Harbour</h1>"
    "<p>The harbour froze in 1911.</p>",
    "<html><head><title>Notes</title><style>p {}</style><div>The harbour froze in 1911.</div>",
    "<head><title>Notes</title>\n  The harbour froze in 1911."])
def test_a_page_that_leaves_out_the_optional_head_end_and_body_tags_keeps_its_text(markup):
    """HTML lets a page leave out both </head> and <body> (Google's style guide asks for it):
    the first element that cannot stand in <head>, or text, begins the body."""
    assert "The harbour froze in 1911." in text_of(markup)
    assert "p {}" not in text_of(markup)


def test_script_style_and_other_hidden_elements_stay_hidden_however_they_nest():
    markup = ("<p>one</p><svg><svg><text>inner</text></svg><text>outer</text></svg>"
              "<p>two</p><noscript><p>enable javascript</p></noscript><template><p>tpl</p>"
              "</template><iframe>frame</iframe><object>obj</object><math><mi>x</mi></math>"
              "<p>three</p>")
    assert text_of(markup) == "one\ntwo\nthree"


def test_a_stray_end_tag_of_a_hidden_element_hides_nothing():
    assert text_of("</svg></script></head><p>visible</p>") == "visible"


def test_an_svg_tooltip_title_is_not_the_documents_title():
    assert text_of("<svg><title>Tooltip</title></svg><p>Shown.</p>") == "Shown."


def test_a_table_header_is_not_a_heading_so_the_title_stays():
    assert structure_of("<title> Opening\nhours </title><table><tr><th>Day</th></tr>"
                        "<tr><td>Mon</td></tr></table>") == [("Opening hours", 0), ("Day", 9)]


@pytest.mark.parametrize("level", range(1, 7))
def test_each_heading_level_is_recorded_and_ends_with_its_element(level):
    markup = f"<h{level}>The <em>heading</em></h{level}>after it<p>prose</p>"
    assert structure_of(markup) == [("The heading", level)]
    assert text_of(markup) == "The heading\nafter it\nprose"


def test_character_references_are_read_and_whitespace_is_one_space():
    assert text_of("<p>a&nbsp;&nbsp;b &amp; caf&eacute; &#8212;\n\t&#x1F680; &lt;tag&gt;</p>") \
        == "a b & café — 🚀 <tag>"


def test_breaks_list_items_and_unclosed_paragraphs_end_lines():
    assert text_of("<p>one<br>two<p>three<ul><li>four<li>five</ul>six") == \
        "one\ntwo\nthree\nfour\nfive\nsix"


def test_text_and_references_cut_by_a_feed_boundary_are_whole():
    head = "<p>" + "x" * (FEED - 6)
    markup = head + "&amp;y <b>bo</b>ld</p><p>" + "z" * (FEED + 10) + "</p>"
    lines = text_of(markup).splitlines()
    assert lines == ["x" * (FEED - 6) + "&y bold", "z" * (FEED + 10)]


@pytest.mark.parametrize("markup", ["", "   \n ", "<html><head><title></title></head></html>",
                                    "<script>only()</script><!-- a comment -->"])
def test_a_page_without_visible_text_gives_none(markup):
    assert not extract(markup)


def test_structure_offsets_point_at_the_lines_of_the_stored_text():
    page = extract("<title>T</title><h1>Ünïcode 東京</h1><p>Body.</p><h2>Two</h2>"
                   "<table><tr><th>A</th><th>B</th></tr></table>").page("x.html", 1)
    lines = page.text.split("\n")
    for start, end, _ in page.structure:
        assert page.text[start:end] in lines
        assert start == 0 or page.text[start - 1] == "\n"
    assert [page.text[s:e] for s, e, _ in page.structure] == ["Ünïcode 東京", "Two", "A", "B"]


def test_the_deadline_is_looked_at_between_feeds():
    import time

    from rag.ingest.formats.pagetext import Deadline

    spent = Deadline(0.001)
    time.sleep(0.01)
    with pytest.raises(LoadError, match="DOCCHAT_READ_SECONDS"):
        extract("<p>word</p>" * FEED, spent)
    assert extract("<p>word</p>" * 3, None).page("x", 1).text == "word\nword\nword"



def test_preformatted_text_keeps_its_lines_and_form_controls_do_not_run_together():
    """A <pre> block (code, verse, a plain-text report pasted into a page) is a line per line
    of its own, not one run-on line; an option or a button is not glued to the text beside
    it ("Colour:RedBlueSend")."""
    text = text_of("<p>Run:</p><pre>make setup\n  make test\n\nmake run</pre><p>Done.</p>"
                   "<label>Colour:</label><select><option>Red</option><option>Blue</option>"
                   "</select><button>Send</button>")
    assert text.splitlines() == ["Run:", "make setup", "make test", "make run", "Done.",
                                 "Colour:", "Red", "Blue", "Send"]
