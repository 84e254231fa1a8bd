"""Files the user removed from the index but that live in their own folders: they are left on
disk and excluded from every later update. Kept as ``excluded.txt`` (one absolute path per
line) in the index folder, beside the generations, so the exclusion survives refreshes.
``remove`` undoes an exclusion (the library's "Include again")."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE = "excluded.txt"


def read(root: str | Path) -> frozenset[str]:
    try:
        text = (Path(root) / FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    return frozenset(line for line in text.splitlines() if line.strip())


def add(root: str | Path, path: str) -> None:
    """Exclude ``path`` (written atomically: a crash leaves the old list or the new one)."""
    _write(Path(root), read(root) | {str(Path(path).resolve())})


def remove(root: str | Path, path: str) -> bool:
    """Include ``path`` again; False when it was not excluded (nothing is written then)."""
    paths = read(root)
    gone = {path, str(Path(path).resolve())} & paths
    if not gone:
        return False
    _write(Path(root), paths - gone)
    return True


def _write(root: Path, paths: frozenset[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".excluded-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(p + "\n" for p in sorted(paths)))
    os.replace(tmp, root / FILE)
