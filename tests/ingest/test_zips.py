"""Office files and e-books are zips (rag/ingest/formats/zips.py): encrypted, legacy,
corrupt and bomb-like ones are refused in one line before any library unpacks them; a good
one is handed on member for member, stored, never inflated more than its directory says."""
from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from office_files import encrypt_office, make_docx, make_pptx, make_xlsx, zip_bomb

from rag.errors import LoadError
from rag.ingest.formats.zips import OLE_MAGIC, safe_zip
from rag.ingest.loaders import load


def reason(name: str, data: bytes) -> str:
    with pytest.raises(LoadError) as e:
        load(Path(name), data)
    return str(e.value)


@pytest.mark.parametrize("name,make", [("report.docx", make_docx), ("deck.pptx", make_pptx),
                                       ("book.xlsx", make_xlsx)])
def test_corrupt_encrypted_and_bomb_office_files_are_refused_in_one_line(name, make,
                                                                         monkeypatch):
    good = make()
    assert "corrupt" in reason(name, good[:len(good) // 2])
    assert "password-protected" in reason(name, encrypt_office(good))
    monkeypatch.setenv("DOCCHAT_OFFICE_MAX_EXPANDED_MB", "8")
    bomb = zip_bomb("word/document.xml", 9)
    assert len(bomb) < 64 * 1024  # tiny packed ...
    msg = reason(name, bomb)  # ... refused from the zip directory, before anything unpacks
    assert "zip bomb" in msg and "DOCCHAT_OFFICE_MAX_EXPANDED_MB" in msg and "\n" not in msg


def test_a_zip_whose_directory_lies_about_its_size_is_refused_without_unpacking_it():
    from office_files import lying_zip

    data = lying_zip("[Content_Types].xml", 100)  # 100 MiB behind a 1,000-byte claim
    tracemalloc.start()
    try:
        msg = reason("liar.docx", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg.startswith("corrupt .docx file"), msg
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MiB held while reading"


def zip_of(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def refusal(data: bytes, kind: str = ".docx", max_mb: float = 8) -> str:
    with pytest.raises(LoadError) as e:
        safe_zip(data, kind, max_mb)
    msg = str(e.value)
    assert msg.strip() and "\n" not in msg, msg
    return msg


def test_a_good_archive_is_handed_on_with_every_file_stored_and_unchanged():
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w>" * 5000,
               "word/media/empty.bin": b"", "docProps/Überblick €.xml": "ü".encode() * 100}
    data = zip_of({"word/": b"", **members})  # a directory entry, as some writers add
    out = zipfile.ZipFile(io.BytesIO(safe_zip(data, ".docx", 1)))
    assert {i.filename: out.read(i) for i in out.infolist()} == members
    assert {i.compress_type for i in out.infolist()} == {zipfile.ZIP_STORED}
    assert out.testzip() is None


def test_an_archive_at_its_expanded_limit_is_read_and_one_byte_more_is_a_bomb():
    limit = 0.25  # MiB
    at = zip_of({"a.xml": b"\0" * (2**18 - 100), "b.xml": b"\0" * 100})
    assert zipfile.ZipFile(io.BytesIO(safe_zip(at, ".xlsx", limit))).read("b.xml") == b"\0" * 100
    over = zip_of({"a.xml": b"\0" * (2**18 - 100), "b.xml": b"\0" * 101})
    msg = refusal(over, ".xlsx", limit)
    assert msg.startswith(".xlsx file expands to") and "0.25 MiB allowed" in msg
    assert "DOCCHAT_OFFICE_MAX_EXPANDED_MB" in msg and "zip bomb" in msg


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04", b"plain text, not a zip" * 50,
                                  zip_of({"a.xml": b"<a/>"})[:-10]])
def test_what_is_not_a_readable_zip_is_refused_as_corrupt(data):
    assert refusal(data, ".epub").startswith("corrupt .epub file (not a readable zip archive")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_whose_bytes_were_damaged_is_refused_as_corrupt(method):
    text = b"The harbour froze in the winter of 1911. " * 200
    data = bytearray(zip_of({"word/document.xml": text}, method))
    at = data.index(b"word/document.xml") + len("word/document.xml") + 40  # inside the bytes
    data[at] ^= 0xFF
    assert refusal(bytes(data)).startswith("corrupt .docx file (")


def test_a_legacy_office_file_is_refused_with_what_to_do():
    legacy = OLE_MAGIC + b"\0" * 4000  # what a .doc/.xls/.ppt starts with
    msg = refusal(legacy, ".pptx")
    assert msg.startswith("not a .pptx file: a legacy binary Office file")
    assert "Save it in the current format" in msg


def test_an_office_file_with_a_password_is_refused_as_encrypted_whatever_it_holds():
    locked = encrypt_office(make_docx())
    assert locked.startswith(OLE_MAGIC)  # Office wraps it in the legacy container ...
    assert refusal(locked) == "password-protected (encrypted) .docx file"  # ... but says so
