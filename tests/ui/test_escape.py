"""Document and user text -> HTML (ui/escape.py): shown literally, nothing for HTML or the
chat's Markdown renderer to act on, in the chat and in the Sources panel alike."""
from __future__ import annotations

import re

from html_view import Parsed, answer, source
from rag.types import Sentence
from ui.escape import text_html
from ui.render_chat import answer_html
from ui.render_sources import sources_html

PAYLOAD = "<script>alert('x')</script> <img src=x onerror=\"alert(1)\"> *bold* [2] a_b_c"


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
