"""Saving user-supplied files into the documents folder: safe names, a size cap, no overwrite
surprises. Used by the UI and the HTTP API; indexing them is Index.update's job."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from rag.errors import UploadError
from rag.ingest.loaders import SUPPORTED

_UNSAFE = re.compile(r"[^\w.\- ]+")
MAX_NAME = 120  # characters of a saved file name, extension included
_CHUNK = 1 << 20


def safe_name(name: str) -> str:
    """A file name that cannot leave the folder or confuse a shell: the last path component
    (either slash), NFKC-normalised, only word characters, dots, dashes and spaces, no
    leading dot, at most MAX_NAME characters, the extension kept and lower-cased."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKC", base).replace("\x00", "")
    stem, ext = os.path.splitext(base)
    kept = _UNSAFE.sub("_", stem).strip(" ._")
    if not kept or set(kept) <= {"_"}:  # nothing left (a name of emoji or symbols only): a
        # name derived from the original, so two such uploads do not collide as "upload"
        kept = "upload-" + hashlib.sha256(stem.encode("utf-8", "replace")).hexdigest()[:10]
    stem = kept
    ext = _UNSAFE.sub("", ext).lower()
    return stem[:MAX_NAME - len(ext)] + ext


def check_name(name: str) -> str:
    """``safe_name(name)``, or UploadError when its type cannot be indexed."""
    safe = safe_name(name)
    ext = os.path.splitext(safe)[1]
    if ext not in SUPPORTED:
        raise UploadError(f"{name!r}: unsupported file type {ext or '(none)'!r}; "
                          f"upload one of {', '.join(sorted(SUPPORTED))}", status=415)
    return safe


def check_names(names: list[str]) -> list[str]:
    """``check_name`` of each, or UploadError (400) when two of them would be saved under the
    same name (``same.txt`` twice, ``dup?name.txt`` and ``dup_name.txt``; letter case is
    ignored, as case-insensitive file systems would): one would silently replace the other."""
    safe = [check_name(n) for n in names]
    first: dict[str, str] = {}
    for name, saved in zip(names, safe):
        key = saved.casefold()
        if key in first:
            raise UploadError(f"{first[key]!r} and {name!r} would both be saved as {saved!r}; "
                              "rename one and upload again (nothing was saved)")
        first[key] = name
    return safe


def save_upload(stream: BinaryIO, name: str, folder: str | Path, max_bytes: int) -> Path:
    """Copy ``stream`` to ``folder/safe_name(name)`` atomically, refusing more than
    ``max_bytes``. A file of the same name is replaced (re-uploading a newer version)."""
    safe = check_name(name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_CHUNK):
                size += len(block)
                if size > max_bytes:
                    raise UploadError(f"{name!r} is larger than the upload limit of "
                                      f"{max_bytes / 2**20:g} MiB (DOCCHAT_UPLOAD_MAX_MB)",
                                      status=413)
                out.write(block)
        if size == 0:
            raise UploadError(f"{name!r} is empty")
        target = folder / safe
        os.replace(tmp, target)
        return target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
