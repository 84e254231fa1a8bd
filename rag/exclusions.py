"""Files the user removed from the index but that live in their own folders: they are left on
disk and excluded from every later update. Kept as ``excluded.txt`` (one absolute path per
line) in the index folder, beside the generations, so the exclusion survives refreshes."""
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
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = sorted(read(root) | {str(Path(path).resolve())})
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".excluded-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(p + "\n" for p in paths))
    os.replace(tmp, root / FILE)
