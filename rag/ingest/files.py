"""Finding the documents under the given paths and identifying them by content."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rag.ingest.loaders import SUPPORTED
from rag.types import Skipped


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, resolved
    sha: str
    size: int
    data: bytes | None  # None: not read (unchanged since it was hashed; see stamp_matches)
    mtime_ns: int = 0  # modification time when hashed; 0 when too recent to trust


def discover(paths: Iterable[str | Path], follow_outside: bool | None = None
             ) -> tuple[list[Path], list[Skipped]]:
    """Files under ``paths`` (recursively), sorted. Hidden files and folders (a name starting
    with a dot) are not read and are listed as skipped with that reason, as are files of
    other types. A missing path is reported, not fatal.

    Symbolic links: a link whose target lies inside one of ``paths`` is read (once, under
    its target's path). A link to anything outside them is listed as skipped ("symlink to
    outside the folder") unless ``follow_outside`` (default: the setting
    DOCCHAT_FOLLOW_OUTSIDE_SYMLINKS) allows it, so an indexed folder cannot leak other files.
    Dangling links, link loops, FIFOs, sockets, devices and unreadable folders are listed as
    skipped with their reason. A path given directly (not found by walking) is taken as is."""
    if follow_outside is None:
        from rag.settings import Settings

        follow_outside = Settings.from_env().follow_outside_symlinks
    walk = _Walk(follow_outside)
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            walk.skip(p, "dangling symlink (its target does not exist)" if p.is_symlink()
                      else "no such file or folder")
            continue
        r = p.resolve()
        if r.is_dir():
            walk.roots.append(r)
    for raw in paths:
        p = Path(raw).expanduser()
        if p.exists():
            r = p.resolve()
            if r.is_dir():
                walk.folder(r)
            else:
                walk.file(r)
    return [walk.found[k] for k in sorted(walk.found)], walk.skipped


class _Walk:
    def __init__(self, follow_outside: bool) -> None:
        self.follow_outside = follow_outside
        self.roots: list[Path] = []
        self.found: dict[str, Path] = {}
        self.skipped: list[Skipped] = []
        self._seen: set[Path] = set()  # folders already walked (links into them, loops)

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append(Skipped(shown(path), reason))

    def file(self, r: Path) -> None:
        if not valid_name(r):
            self.skip(r, NOT_UTF8)
        elif r.suffix.lower() in SUPPORTED:
            self.found[str(r)] = r
        else:
            self.skip(r, f"unsupported file type {r.suffix or '(none)'!r}")

    def folder(self, d: Path) -> None:
        if d in self._seen:
            return
        self._seen.add(d)
        if not valid_name(d):
            self.skip(d, NOT_UTF8)
            return
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            self.skip(d, f"unreadable folder: {e.strerror or e}")
            return
        for entry in entries:
            if entry.name == "__pycache__" or entry.name.startswith(OWN_HIDDEN):
                continue
            if entry.name.startswith("."):  # listed, so that a user can see why
                self.skip(Path(entry.path), HIDDEN)
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    self._link(path)
                elif entry.is_dir(follow_symlinks=False):
                    self.folder(path)
                elif entry.is_file(follow_symlinks=False):
                    self.file(path)
                else:
                    self.skip(path, _special(path))
            except OSError as e:
                self.skip(path, f"cannot read: {e.strerror or e}")

    def _link(self, link: Path) -> None:
        try:
            target = link.resolve(strict=True)
        except FileNotFoundError:
            self.skip(link, "dangling symlink (its target does not exist)")
            return
        except RuntimeError:  # Python < 3.13 signals a loop this way
            self.skip(link, "symlink loop")
            return
        except OSError as e:
            if e.errno == errno.ELOOP:
                self.skip(link, "symlink loop")
            else:
                self.skip(link, f"unreadable symlink: {e.strerror or e}")
            return
        if not self.follow_outside and not any(target == r or r in target.parents
                                               for r in self.roots):
            self.skip(link, "symlink to outside the folder (DOCCHAT_FOLLOW_OUTSIDE_SYMLINKS "
                            "allows it)")
            return
        if target.is_dir():
            if target in link.parents:
                self.skip(link, "symlink loop (points to a folder above it)")
            else:
                self.folder(target)  # once: a folder already read is not read again
        elif target.is_file():
            self.file(target)
        else:
            self.skip(link, "symlink to " + _special(target))


#: docchat's own hidden files in a documents folder (uploads being received or deleted)
OWN_HIDDEN = (".incoming-", ".deleting-")
HIDDEN = "hidden (its name starts with a dot): not indexed; rename it to index it"
NOT_UTF8 = "the name is not valid UTF-8 (shown with \ufffd); rename it to index it"


def valid_name(path: Path | str) -> bool:
    """False for a name the file system gave as bytes that are not UTF-8 (Python holds them as
    lone surrogates, which the store, JSON and the page cannot carry)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: Path | str) -> str:
    """``path`` as text any store or page can carry: undecodable bytes become U+FFFD."""
    if valid_name(path):
        return str(path)
    try:
        raw = str(path).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        raw = str(path).encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


#: Characters that reorder or hide text when shown: bidirectional overrides and isolates,
#: marks, zero-width ones. In a file name they can spoof another name ("invoice\u202efdp.exe"
#: shows as "invoiceexe.pdf"), so names show them as visible escapes.
_HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def visible(name: str) -> str:
    """``name`` with every reordering or invisible character shown as <U+XXXX>."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", name)


def _special(path: Path) -> str:
    mode = path.stat().st_mode
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
    return f"not a regular file: {kind}"


def fingerprint(paths: Iterable[str | Path], follow_outside: bool | None = None) -> int:
    """A cheap summary of the files under ``paths`` (names, sizes, modification times):
    when it changes, something may need indexing. The update itself still compares content
    hashes, so a false alarm costs one hashing pass and re-embeds nothing."""
    found, skipped = discover(paths, follow_outside)
    state = [(s.path, s.reason) for s in skipped]
    for p in found:
        try:
            st = p.stat()
            state.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            state.append((str(p), -1))
    return hash(tuple(state))


#: A modification time this close to "now" is not trusted as a stamp: the file may change
#: again within the clock's granularity without its size or time changing ("racy" in git).
RACY_SECONDS = 2.0


def read(path: Path) -> FoundFile:
    before = path.stat()
    data = path.read_bytes()
    after = path.stat()
    fresh = time.time_ns() - after.st_mtime_ns < RACY_SECONDS * 1e9
    stable = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    return FoundFile(str(path), hashlib.sha256(data).hexdigest(), len(data), data,
                     0 if fresh or not stable else after.st_mtime_ns)


def unchanged(path: Path, sha: str, stamp: tuple[int, int] | None) -> FoundFile | None:
    """``path`` as it was hashed, without reading it, when its size and modification time are
    still the recorded ``stamp``; None when it must be read."""
    if stamp is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) != stamp:
        return None
    return FoundFile(str(path), sha, st.st_size, None, st.st_mtime_ns)


#: Formats that are plain text: their size is their chunk count (see Settings.max_text_file_mb).
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".csv"})


def too_large(path: Path, settings) -> str:
    """The reason ``path`` is too large to index under ``settings``, or "" when it is not."""
    text = path.suffix.lower() in TEXT_SUFFIXES
    cap_mb = settings.max_text_file_mb if text else settings.max_file_mb
    try:
        size = path.stat().st_size
    except OSError:
        return ""  # read() reports it
    if size <= cap_mb * 2**20:
        return ""
    var = "DOCCHAT_MAX_TEXT_FILE_MB" if text else "DOCCHAT_MAX_FILE_MB"
    return f"too large: {size / 2**20:.1f} MiB, the limit is {cap_mb:g} MiB ({var})"
