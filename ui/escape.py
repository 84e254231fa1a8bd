"""Document and user text -> HTML, for every piece of the page's markup (ui/render_chat.py,
render_sources.py, render_library.py, library_text.py, the page's handlers).

Every piece of document or user text goes through ``text_html`` here, and nowhere else is
text turned into markup: a document containing ``<script>`` shows as text and runs nothing.
"""
from __future__ import annotations

import os

from rag import visible

_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#~|$\\"})


def text_html(text: str) -> str:
    """Escape for HTML (and neutralise what the chat's Markdown renderer would act on), in
    one pass so that no entity is escaped twice."""
    return text.translate(_ENTITIES)


def name_html(path: str) -> str:
    """A file's name for the page: escaped, and characters that could spoof another name
    (right-to-left overrides, zero-width ones) shown as <U+XXXX>."""
    return text_html(visible(os.path.basename(path)))
