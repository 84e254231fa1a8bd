"""Loaders: legacy encodings read right; bad files are skipped with a one-line reason while the
rest of the folder is indexed (what HTML gives: test_html_text.py)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import make_pdf
from pypdf import PdfReader, PdfWriter

from rag.errors import LoadError
from rag.index import Index
from rag.ingest.loaders import load
from rag.settings import Settings
from fakes import HashEmbedder

FRENCH = "Le café crème coûte 5 € à Zürich – « très cher », dit-elle. Voilà, c’est naïf.\n"
GERMAN = "Die Größe der Straße überrascht. Schöne Grüße aus München – bis bald!\n"
LATIN1 = "Grüße aus München: Äpfel, süße Crème brûlée, Smørrebrød für alle.\n"
RUSSIAN = "Привет, мир! Это текст на русском языке.\n"


def encrypt(data: bytes, user: str, owner: str = "owner") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user, owner_password=owner)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def load_bytes(name: str, data: bytes):
    return load(Path(name), data)


def reason(name: str, data: bytes) -> str:
    with pytest.raises(LoadError) as e:
        load_bytes(name, data)
    return str(e.value)


@pytest.mark.parametrize("text,encoding", [
    (FRENCH, "cp1252"), (GERMAN, "cp1252"), (LATIN1, "latin-1"), (FRENCH * 20, "cp1252"),
    (FRENCH, "utf-16"), (GERMAN, "utf-8-sig"), (RUSSIAN, "cp1251")])
def test_text_that_is_not_utf8_is_decoded_to_the_original_characters(text, encoding):
    [page] = load_bytes("notes.txt", text.encode(encoding))
    assert page.text == text


def test_windows_line_endings_are_normalised_and_offsets_refer_to_the_result():
    [page] = load_bytes("a.md", b"# Title\r\nLine one.\r\nLine two.\r\n")
    assert page.text == "# Title\nLine one.\nLine two.\n"


def test_an_empty_or_blank_file_is_refused_as_empty():
    assert reason("empty.txt", b"") == "empty file"
    assert reason("blank.md", b"  \n\t\r\n ") == "empty file"


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 64, b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200,
    b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes()])
def test_a_binary_file_named_txt_is_refused_as_binary(data):
    assert reason("photo.txt", data) == "binary data, not text"


def test_an_unsupported_extension_names_the_supported_ones():
    msg = reason("report.odt", b"PK\x03\x04 whatever")
    assert "'.odt'" in msg and ".pdf" in msg and ".docx" in msg


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not really a pdf", b"plain text, not a PDF",
                                  make_pdf(["half a file"])[:300]])
def test_a_corrupt_pdf_is_refused_as_corrupt(data):
    assert reason("broken.pdf", data).startswith("corrupt PDF")


def test_a_password_protected_pdf_is_refused_as_encrypted():
    assert reason("secret.pdf", encrypt(make_pdf(["top secret"]), "pw")) == \
        "encrypted PDF (password required)"


def test_a_pdf_encrypted_without_a_user_password_is_read():
    [page] = load_bytes("open.pdf", encrypt(make_pdf(["Readable by anyone."]), ""))
    assert "Readable by anyone." in page.text


def test_an_image_only_pdf_is_refused_for_lack_of_a_text_layer():
    assert "no text layer" in reason("scan.pdf", make_pdf([None, None]))


def test_image_only_pages_are_dropped_and_the_others_keep_their_page_numbers():
    pages = load_bytes("mixed.pdf", make_pdf(["Rivers flow to the sea.", None, "Bridges."]))
    assert [(p.page, p.text.strip()) for p in pages] == [(1, "Rivers flow to the sea."),
                                                        (3, "Bridges.")]


HTML = b"""<!doctype html><html><head><title>Tab title</title>
<style>body { color: red }</style><script>var secret = "script text";</script></head><body>
<h1>Rivers &amp; Bridges</h1>
<p>Water is H<sub>2</sub>O and <a href="x">links</a> stay <b>inline</b>.<br>A new line.</p>
<!-- a comment nobody sees --><noscript>enable javascript</noscript>
<template><p>template text</p></template><svg><text>svg label</text></svg>
<ul><li>one</li><li>two</li></ul><script type="application/ld+json">{"k": "json"}</script>
</body></html>"""


def test_bad_files_are_skipped_with_one_line_reasons_and_the_others_are_indexed(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    bad = {"empty.txt": b"", "photo.txt": bytes(range(256)) * 8, "report.odt": b"PK\x03\x04",
           "broken.docx": b"PK\x03\x04 not really",
           "broken.pdf": b"%PDF-1.4\ngarbage", "secret.pdf": encrypt(make_pdf(["x"]), "pw"),
           "scan.pdf": make_pdf([None])}
    good = {"notes.txt": GERMAN.encode("cp1252"), "page.html": HTML,
            "paper.pdf": make_pdf(["Rivers flow to the sea."])}
    for name, data in {**bad, **good}.items():
        (docs / name).write_bytes(data)
    root = tmp_path / "index"
    settings = Settings(index_dir=str(root))

    def run():
        return Index(root, settings, embedder=HashEmbedder(dim=8)).update([str(docs)])

    summary = run()
    assert sorted(Path(p).name for p in summary.added) == sorted(good)
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert sorted(reasons) == sorted(bad)
    assert all(r.strip() and "\n" not in r for r in reasons.values())
    for name, word in [("empty.txt", "empty"), ("photo.txt", "binary"),
                       ("report.odt", "unsupported"),
                       ("broken.docx", "corrupt"), ("broken.pdf", "corrupt"),
                       ("secret.pdf", "encrypted"), ("scan.pdf", "no text")]:
        assert word in reasons[name], (name, reasons[name])
    idx = Index.open(root, Settings(index_dir=str(root)))
    assert {Path(d.path).name for d in idx.documents() if d.status == "indexed"} == set(good)
    assert {Path(d.path).name for d in idx.documents() if d.status == "skipped"} == set(bad)
    assert idx.status().files == len(good)
    again = run()  # nothing changed: the same files are reported skipped, nothing re-embedded
    assert again.embedded == 0 and not again.added
    assert {Path(s.path).name: s.reason for s in again.skipped} == reasons


def test_utf16_without_a_byte_order_mark_and_stray_nul_bytes_are_read_as_text():
    """Issue 20, item 14: both were skipped as "binary"."""
    import os

    from rag.errors import LoadError
    from rag.ingest.loaders import decode_text

    text = "The Vantor mill employed 412 workers; the crème brûlée was 5 €.\n" * 20
    assert decode_text(text.encode("utf-16-le")) == text
    assert decode_text(text.encode("utf-16-be")) == text
    assert decode_text(text.encode() + b"\x00\x00\x00") == text  # a log with stray NULs
    with pytest.raises(LoadError, match="binary"):
        decode_text(os.urandom(4096) + b"\x00" * 512)
    with pytest.raises(LoadError, match="binary"):
        decode_text(bytes(range(256)) * 40)  # every byte value: binary, not UTF-16
