"""The page's index and library lines (Markdown): status, upload/refresh log, re-index note,
the library's choices. Every file name and reason goes through ``text_html``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from rag.types import Document, DocumentStatus, Skipped, Status, UpdateSummary
from ui.escape import name_html, text_html


def status_md(status: Status, docs: Path) -> str:
    if not status.exists:
        return "**Index:** none yet: upload documents or press *Refresh index*."
    when = status.built_at.replace("T", " ")[:19]
    skipped = f" · {len(status.skipped)} skipped (listed below)" if status.skipped else ""
    return (f"**Index:** {status.files} file{'s' * (status.files != 1)} · {status.chunks} "
            f"chunks · model `{os.path.basename(status.model)}` · updated {when} UTC"
            f"{skipped} · uploads go to `{docs}`")


def _skipped_line(s: Skipped) -> str:
    return f"- Skipped **{name_html(s.path)}**: {text_html(s.reason)}"


def skipped_md(status: Status) -> str:
    return "\n".join(_skipped_line(s) for s in status.skipped)


def skipped_uploads(summary: UpdateSummary, saved: Sequence[str | Path]) -> list[Skipped]:
    """The skipped entries of ``summary`` that are the files saved at ``saved`` (matched as
    the index names files: resolved paths), not other folders' files of the same name."""
    uploads = {os.path.realpath(p) for p in saved}
    return [s for s in summary.skipped if s.path in uploads]


def summary_md(summary: UpdateSummary, saved: Sequence[str | Path] = ()) -> str:
    """The upload/refresh log. After an upload (``saved``: the paths the uploads were saved
    at), only the uploaded files' problems are listed (as "not indexed"), not every skipped
    file of the folder again, nor a file of the same name in another folder."""
    failed = skipped_uploads(summary, saved)
    bad = {s.path for s in failed}
    ok = [os.path.basename(p) for p in saved if os.path.realpath(p) not in bad]
    lines = [f"Saved and indexed: {', '.join(text_html(n) for n in ok)}."] if ok else []
    for s in failed:
        lines.append(f"- ⚠ **{name_html(s.path)}** not indexed: "
                     f"{text_html(s.reason)} (remove it under *Library*)")
    counts = ", ".join(f"{len(getattr(summary, k))} {k}" for k in
                       ("added", "updated", "removed", "unchanged"))
    lines.append(f"Index updated in {summary.seconds:.1f} s: {counts}; {summary.embedded} "
                 f"chunks embedded, {summary.chunks} in all.")
    if summary.reason:
        lines.append(f"Full rebuild: {text_html(summary.reason)}.")
    if not saved:
        lines.extend(_skipped_line(s) for s in summary.skipped)
    return "\n".join(lines)


def reindex_note(doc: Document | None, changed: bool,
                 summary: UpdateSummary) -> str:
    """What a re-index of one document did, in one line."""
    if doc is None:
        return "The file is no longer on disk: it was removed from the index."
    name = f"**{text_html(doc.name)}**"
    if doc.status != DocumentStatus.INDEXED:
        return f"Read {name} again: still not indexed: {text_html(doc.reason)}"
    if changed:
        return (f"Re-indexed {name}: its content had changed; {summary.embedded} chunks "
                f"embedded ({summary.seconds:.1f} s).")
    return f"Read {name} again: its content is unchanged, so nothing was re-embedded."


def library_choices(docs: list[Document], name_filter: str = "") -> list[tuple[str, str]]:
    return [(f"{d.name} ({d.status})", d.id) for d in docs
            if name_filter.lower() in d.name.lower()]


def scope_choices(docs: list[Document], folders: Sequence[str]) -> list[tuple[str, str]]:
    """The "Search in" picker: each folder that holds indexed documents (an indexed folder,
    the uploads), as a group of all its documents, then each indexed document by name."""
    indexed = [d for d in docs if d.status == DocumentStatus.INDEXED]
    out = []
    for folder in folders:
        root = os.path.realpath(folder)
        n = sum(1 for d in indexed if d.path.startswith(root.rstrip(os.sep) + os.sep))
        if n:
            out.append((f"Folder {os.path.basename(root) or root} (all {n})", root))
    names = [d.name for d in indexed]
    return out + [(d.name if names.count(d.name) == 1 else f"{d.name} ({d.path})", d.id)
                  for d in indexed]
