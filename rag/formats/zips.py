"""Office files and e-books are zip archives: refuse encrypted, legacy, corrupt and
bomb-like ones with one line each, before any library unpacks a byte."""
from __future__ import annotations

import io
import zipfile

from rag.errors import LoadError

#: An OLE2 compound file: a legacy .doc/.xls/.ppt, or an OOXML file encrypted with a password
#: (Office wraps the encrypted package in OLE2 with an "EncryptionInfo" stream).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")


def open_zip(data: bytes, kind: str, max_mb: float) -> zipfile.ZipFile:
    """The archive in ``data``, after its directory showed it unpacks to at most ``max_mb``
    MiB in total. (zipfile stops each member at its declared size, so the directory's word
    bounds what any reader can unpack.)"""
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTION_INFO in data:
            raise LoadError(f"password-protected (encrypted) {kind} file")
        raise LoadError(f"not a {kind} file: a legacy binary Office file (.doc/.xls/.ppt)? "
                        "Save it in the current format")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise LoadError(f"corrupt {kind} file (not a readable zip archive: {e})") from e
    expanded = sum(m.file_size for m in members)
    if expanded > max_mb * 2**20:
        raise LoadError(f"{kind} file expands to {expanded / 2**20:,.0f} MiB, more than the "
                        f"{max_mb:g} MiB allowed (DOCCHAT_OFFICE_MAX_EXPANDED_MB): a zip bomb?")
    return archive
