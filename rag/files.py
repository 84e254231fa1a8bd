"""Finding the documents under the given paths and identifying them by content."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rag.loaders import SUPPORTED
from rag.types import Skipped


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, resolved
    sha: str
    size: int
    data: bytes


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Files under ``paths`` (recursively), sorted. Hidden files and folders are ignored;
    files of other types are reported as skipped. A missing path is reported, not fatal."""
    found: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            skipped.append(Skipped(str(p), "no such file or folder"))
            continue
        candidates = [p] if p.is_file() else sorted(
            f for f in p.rglob("*") if f.is_file() and not _hidden(f.relative_to(p)))
        for f in candidates:
            r = f.resolve()
            if r.suffix.lower() in SUPPORTED:
                found[str(r)] = r
            else:
                skipped.append(Skipped(str(r), f"unsupported file type {r.suffix or '(none)'!r}"))
    return [found[k] for k in sorted(found)], skipped


def fingerprint(paths: Iterable[str | Path]) -> int:
    """A cheap summary of the files under ``paths`` (names, sizes, modification times):
    when it changes, something may need indexing. The update itself still compares content
    hashes, so a false alarm costs one hashing pass and re-embeds nothing."""
    found, skipped = discover(paths)
    state = [(s.path, s.reason) for s in skipped]
    for p in found:
        try:
            st = p.stat()
            state.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            state.append((str(p), -1))
    return hash(tuple(state))


def read(path: Path) -> FoundFile:
    data = path.read_bytes()
    return FoundFile(str(path), hashlib.sha256(data).hexdigest(), len(data), data)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)
