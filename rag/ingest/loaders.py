"""path -> pages. One small function per format; LoadError carries the reason a file is skipped."""
from __future__ import annotations

import contextvars
import logging
import re
from pathlib import Path
from typing import Callable

from rag.ingest import structure
from rag.errors import LoadError
from rag.ingest.formats import epub, html_text, ocr, office, sheets
from rag.ingest.formats.pagetext import Deadline
from rag.settings import Settings
from rag.types import Page

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx", ".pptx", ".xlsx",
             ".csv", ".epub")


def load(path: Path, data: bytes | None = None, settings: Settings | None = None) -> list[Page]:
    """Read ``path`` into pages with non-empty text. Raises LoadError with a one-line reason.
    ``settings`` (the caller's; default: the environment's) set the reading limits: time
    budget, OCR, expanded-size and row caps."""
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(f"unsupported file type {suffix or '(none)'!r}; "
                        f"supported: {', '.join(SUPPORTED)}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise LoadError(f"cannot read file: {e.strerror or e}") from e
    if not data.strip():
        raise LoadError("empty file")
    settings = settings or Settings.from_env()
    token = _READING.set((settings, Deadline(settings.read_seconds)))
    try:
        pages = [p for p in loader(str(path), data) if p.text.strip()]
    finally:
        _READING.reset(token)
    if not pages:
        raise LoadError("no text found")
    return pages


def decode_text(data: bytes) -> str:
    """Bytes -> str: UTF-8 (with or without BOM), else the best guess; binary data is refused."""
    head = data[:8192]
    if b"\x00" in head and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        utf16 = _utf16_without_bom(head)
        if utf16:  # Windows' "Unicode" text: UTF-16 with no byte order mark
            try:
                text = data.decode(utf16)
            except UnicodeDecodeError:
                raise LoadError("binary data, not text") from None
            if _control_share(text) > 0.05:
                raise LoadError("binary data, not text")
            return normalise(text)
        if head.count(b"\x00") > STRAY_NULS * len(head):
            raise LoadError("binary data, not text")
        data = data.replace(b"\x00", b"")  # a few stray NUL bytes in a text file
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    if _control_share(text) > 0.05:
        raise LoadError("binary data, not text")
    return normalise(text)


STRAY_NULS = 0.01  # share of NUL bytes a text file may hold (dropped) before it is binary


def _utf16_without_bom(head: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when the NUL bytes sit in every other byte, as in UTF-16
    text of mostly Latin characters; None otherwise."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes) -> str:
    """Detection, but Windows-1252 (the usual legacy encoding of Western text) wins when it
    reads the bytes as cleanly: on short texts detection often picks a look-alike code page
    (cp1250, mac_iceland) and turns "crème" into "crčme"."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("binary data, not text")
    if best.encoding != "cp1252" and b"\x00" not in data:
        try:
            western = data.decode("cp1252")
        except UnicodeDecodeError:
            return str(best)
        if mess_ratio(western[:100_000], 1.0) <= best.chaos:
            return western
    return str(best)


def normalise(text: str) -> str:
    """Unify line endings and drop control characters; offsets refer to this normalised text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_share(text: str) -> float:
    sample = text[:8192]
    return len(_CONTROL.findall(sample)) / max(1, len(sample))


def _load_text(path: str, data: bytes) -> list[Page]:
    text = decode_text(data)
    return [Page(path=path, page=1, text=text, structure=structure.plain_text(text))]


def _load_markdown(path: str, data: bytes) -> list[Page]:
    text = decode_text(data)
    return [Page(path=path, page=1, text=text, structure=structure.markdown(text))]


def _load_html(path: str, data: bytes) -> list[Page]:
    return [html_text.extract(decode_text(data), _deadline()).page(path, 1)]


def _load_docx(path: str, data: bytes) -> list[Page]:
    return office.load_docx(path, data, _settings().office_max_expanded_mb, _deadline())


def _load_pptx(path: str, data: bytes) -> list[Page]:
    return office.load_pptx(path, data, _settings().office_max_expanded_mb, _deadline())


def _load_xlsx(path: str, data: bytes) -> list[Page]:
    s = _settings()
    return sheets.load_xlsx(path, data, s.office_max_expanded_mb, s.sheet_max_rows, _deadline(),
                            s.sheet_max_cells)


def _load_csv(path: str, data: bytes) -> list[Page]:
    s = _settings()
    return sheets.load_csv(path, decode_text(data), s.sheet_max_rows, _deadline(),
                           s.sheet_max_cells)


def _load_epub(path: str, data: bytes) -> list[Page]:
    return epub.load_epub(path, data, _settings().office_max_expanded_mb, _deadline(),
                          decode_text)


_READING: contextvars.ContextVar[tuple[Settings, Deadline]] = contextvars.ContextVar("reading")


def _settings() -> Settings:
    """The settings of the load() in progress (read once per file), else the environment's."""
    reading = _READING.get(None)
    return reading[0] if reading else Settings.from_env()


def _deadline() -> Deadline:
    reading = _READING.get(None)
    return reading[1] if reading else Deadline(_settings().read_seconds)


def _load_pdf(path: str, data: bytes) -> list[Page]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types here
                ok = 0
            if not ok:
                raise LoadError("encrypted PDF (password required)")
        n_pages = len(reader.pages)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise LoadError(f"corrupt PDF: {e}") from e
    texts: list[str | None] = []
    for i in range(n_pages):
        _deadline().check()
        try:
            texts.append(normalise(reader.pages[i].extract_text() or ""))
        except Exception as e:  # noqa: BLE001 - one bad page must not lose the others
            log.warning("%s: page %d unreadable: %s", path, i + 1, e)
            texts.append(None)
    labels = _page_labels(reader, n_pages)
    if not any(labels):
        labels = printed_numbers([t or "" for t in texts])
    pages = [Page(path=path, page=i + 1, text=t, label=labels[i],
                  structure=structure.pdf_page(t, first_page=i == 0))
             for i, t in enumerate(texts) if t is not None]
    pages, why = ocr.complete(path, data, pages, n_pages, _settings())
    if not any(p.text.strip() for p in pages):
        raise LoadError("PDF has no text layer (scanned images only?)" +
                        (f": {why}" if why else ""))
    return pages


def _page_labels(reader, n_pages: int) -> list[str]:
    try:
        labels = list(reader.page_labels)
    except Exception:  # noqa: BLE001 - malformed label trees are common
        labels = []
    if len(labels) != n_pages:
        return [""] * n_pages
    # a label equal to the plain page number adds nothing
    return ["" if lab == str(i + 1) else lab for i, lab in enumerate(labels)]


_EDGE_NUMBER = re.compile(r"(?<![\d/.,-])(\d{1,6})(?![\d/.,-])")


def printed_numbers(texts: list[str], min_share: float = 0.6, slack: int = 5) -> list[str]:
    """Printed page numbers found in page headers/footers, when they run in sequence.

    The offset that most pages agree on (a number on the first or last line of page i equal
    to ``offset + i``, e.g. 47699, 47700, ... in a journal) sets the sequence; each page then
    takes the edge number closest to its place in it (samples may skip pages), and a page that
    shows none (a title page) gets the number the sequence implies. Labels must increase."""
    found: list[set[int]] = []
    votes: dict[int, int] = {}
    for i, text in enumerate(texts):
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        nums = {int(m) for m in _EDGE_NUMBER.findall(" ".join(lines[:1] + lines[-1:]))}
        found.append(nums)
        for n in nums:
            votes[n - i] = votes.get(n - i, 0) + 1
    if not votes or len(texts) < 2:
        return [""] * len(texts)
    offset, count = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))
    if count < 2 or count < min_share * len(texts) or offset == 1:
        return [""] * len(texts)
    labels = []
    for i, nums in enumerate(found):
        near = [n for n in nums if abs(n - offset - i) <= slack]
        labels.append(min(near, key=lambda n: abs(n - offset - i)) if near else offset + i)
    if any(b <= a for a, b in zip(labels, labels[1:])) or labels[0] <= 0:
        return [""] * len(texts)
    return [str(n) for n in labels]


_LOADERS: dict[str, Callable[[str, bytes], list[Page]]] = {
    ".txt": _load_text,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
    ".pptx": _load_pptx,
    ".xlsx": _load_xlsx,
    ".csv": _load_csv,
    ".epub": _load_epub,
}
