"""Office files and e-books are zip archives: refuse encrypted, legacy, corrupt and
bomb-like ones with one line each, before any library unpacks a byte."""
from __future__ import annotations

import io
import zipfile
import zlib

from rag.errors import LoadError

#: An OLE2 compound file: a legacy .doc/.xls/.ppt, or an OOXML file encrypted with a password
#: (Office wraps the encrypted package in OLE2 with an "EncryptionInfo" stream).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")


def safe_zip(data: bytes, kind: str, max_mb: float) -> bytes:
    """``data`` re-packed so that no reader can unpack more than its directory declares, once
    the directory showed at most ``max_mb`` MiB in total.

    zipfile stops a member at its declared size, but reading a member whole inflates all of
    its compressed bytes in one call: a directory that lies (1,000 bytes declared, 200 MiB
    behind them) would still cost the full expansion in memory inside the library. So every
    member is read here in bounded blocks (zipfile checks its CRC at the end) and stored
    uncompressed in a fresh archive, which the format library then reads."""
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
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as safe:
            for m in members:
                if m.is_dir():
                    continue
                info = zipfile.ZipInfo(m.filename, date_time=m.date_time)
                with archive.open(m) as src, safe.open(info, "w", force_zip64=True) as dst:
                    while block := src.read(_BLOCK):
                        dst.write(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as e:
        raise LoadError(f"corrupt {kind} file ({' '.join(str(e).split())[:200]})") from e
    return out.getvalue()


_BLOCK = 1 << 20
