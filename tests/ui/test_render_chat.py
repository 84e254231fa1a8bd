"""Answer -> HTML for the chat's bubbles (ui/render_chat.py): citation links to the answer's
own sources, unsupported and abstained answers, drafts, the marked answer. The HTML is parsed
back (tests/ui/html_view.py) so the assertions are about what a browser would see."""
from __future__ import annotations

from html_view import Parsed, answer, source
from rag.types import CANNOT_ANSWER, Answer, Sentence
from ui.render_chat import answer_html
from ui.render_sources import sources_html


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


def test_a_draft_is_shown_without_its_passage_rank_markers():
    from ui.render_chat import draft_html

    html = draft_html("Tides rise [3]. Crabs <run> [1, 2].", "Checking…")
    assert "[" not in html and "&#91;" not in html  # the verified answer numbers them
    assert "Tides rise. Crabs &#60;run&#62;." in html and "Checking…" in html


def test_the_marked_answer_is_bold_inside_its_sentence_and_escaped():
    from rag.types import Answer, AnswerSpan, Sentence, Source

    src = Source(1, "a.txt", 1, 0, 40, "The <b>hall</b> held 6,200 people.", 1.0,
                 highlights=((0, 34),))
    s = Sentence("The <b>hall</b> held 6,200 people.", (1,), True, AnswerSpan("6,200", 1, 21, 26))
    html = answer_html(Answer("How many?", "x [1]", False, (s,), (src,)))
    assert '<strong class="dc-span">6,200</strong>' in html
    assert "<b>" not in html and "&#60;b&#62;hall" in html
