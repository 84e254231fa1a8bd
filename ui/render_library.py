"""The library table as HTML; every name, path and reason through ``text_html``
(ui/escape.py)."""
from __future__ import annotations

from rag import visible
from rag.types import Document, DocumentStatus
from ui.escape import text_html


def size_text(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB" if n >= 1024 \
        else f"{n} B"


def library_html(docs: list[Document], name_filter: str = "") -> str:
    """The library table; every name, path and reason escaped."""
    wanted = [d for d in docs if name_filter.lower() in d.name.lower()]
    if not wanted:
        return '<div class="dc-lib dc-empty">No documents match.</div>' if docs else \
            '<div class="dc-lib dc-empty">No documents yet.</div>'
    rows = []
    for d in wanted:
        state = "indexed" if d.status == DocumentStatus.INDEXED else \
            f'<span class="dc-{d.status}">{d.status}: {text_html(d.reason)}</span>'
        rows.append(
            f'<tr data-id="{d.id}"><td title="{text_html(visible(d.path))}">{text_html(d.name)}</td>'
            f"<td>{text_html(d.type)}</td><td>{d.pages or ''}</td><td>{d.chunks or ''}</td>"
            f"<td>{size_text(d.size)}</td><td>{text_html(d.indexed_at.replace('T', ' ')[:16])}"
            f"</td><td>{state}</td></tr>")
    return ('<div class="dc-lib-wrap"><table class="dc-lib"><thead><tr><th>Name</th>'
            "<th>Type</th><th>Pages</th><th>Chunks</th><th>Size</th><th>Indexed (UTC)</th>"
            f"<th>Status</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
