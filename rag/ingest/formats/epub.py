"""E-books (.epub): zipfile plus the package document's spine, each chapter read with the
HTML text extraction (rag.ingest.formats.html_text). One page per chapter that has text, in reading
order, labelled "chapter N"; the chapter's headings are its structure (its <title> becomes
the title line when it has no heading). The package files are read with the stdlib XML
parser (expat, which refuses entity-expansion bombs)."""
from __future__ import annotations

import io
import posixpath
import zipfile
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from rag.errors import LoadError
from rag.ingest.formats import html_text
from rag.ingest.formats.pagetext import Deadline
from rag.ingest.formats.zips import safe_zip
from rag.types import Page

_CONTAINER = "META-INF/container.xml"
_HTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}


def load_epub(path: str, data: bytes, max_mb: float, deadline: Deadline,
              decode) -> list[Page]:
    archive = zipfile.ZipFile(io.BytesIO(safe_zip(data, ".epub", max_mb)))
    try:
        container = ET.fromstring(archive.read(_CONTAINER))
        rootfile = next(e.get("full-path") for e in container.iter() if _local(e.tag) ==
                        "rootfile" and e.get("full-path"))
        package = ET.fromstring(archive.read(rootfile))
    except (KeyError, StopIteration, ET.ParseError, ValueError) as e:
        raise LoadError(f"corrupt .epub file (no readable package document: {e})") from e
    base = posixpath.dirname(rootfile)
    manifest = {e.get("id"): (e.get("href", ""), e.get("media-type", ""))
                for e in package.iter() if _local(e.tag) == "item"}
    spine = [e.get("idref") for e in package.iter() if _local(e.tag) == "itemref"]
    pages: list[Page] = []
    for idref in spine:
        href, media = manifest.get(idref, ("", ""))
        if not href or media not in _HTML_TYPES:
            continue
        name = posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))
        try:
            markup = decode(archive.read(name))
        except KeyError as e:
            raise LoadError(f"corrupt .epub file (spine names a missing file {name!r})") from e
        except LoadError:
            continue  # a chapter that is not text (the decoder said why) holds nothing to index
        out = html_text.extract(markup, deadline)
        if out:
            n = len(pages) + 1
            pages.append(out.page(path, n, f"chapter {n}"))
    return pages


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
