"""Incremental (re)building of an index over any Store. Content hashes are identity: a content
already embedded is never embedded again, whatever its name."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.store import exclusions
from rag.ingest import files as filesmod
from rag.ingest.chunking import chunk_pages, index_text
from rag.errors import LoadError, SourceMissingError
from rag.ingest.loaders import load
from rag.settings import Settings
from rag.store import (FORMAT_VERSION, Bookkeeping, ChunkerSettings, FileRecord, Manifest,
                       open_store)
from rag.types import Chunk, Page, Skipped, UpdateSummary

log = logging.getLogger(__name__)
CHUNKER_VERSION = 7  # bump when loaders or chunking change what is stored (6: a sheet row
# is a sentence; PDF headings measured against the page's full line; 7: an HTML page without
# <head>/<body> tags keeps its body, <pre> keeps its lines, options and buttons are lines; Word
# tables nested in a cell, content controls and tracked insertions are read; a CSV field over
# 131,072 characters is read, not the file skipped)
OnProgress = Callable[[float, str], None]


@dataclass
class _Plan:
    files: dict[str, filesmod.FoundFile]
    skipped: list[Skipped]
    old_files: dict[str, str] = field(default_factory=dict)
    old_contents: set[str] = field(default_factory=set)
    old_bad: dict[str, str] = field(default_factory=dict)  # sha -> reason it failed to load


@dataclass(frozen=True)
class Prepared:
    """New contents read, chunked and embedded before the update that stores them, without
    the store's writer or the server's update lock held (``prepare``): reading a scanned PDF
    (OCR) or embedding a large upload then no longer holds up a delete or another update.
    ``update(prepared=...)`` takes from it every content it still needs, and reads and embeds
    only the rest. Valid only for the model and chunker settings it was made with (``key``)."""

    key: tuple
    contents: dict[str, tuple[list[Page], list[Chunk], np.ndarray]]  # sha -> pages, chunks, vectors
    bad: dict[str, str]  # sha -> why it failed to load (not tried again by the update)

    @property
    def chunks(self) -> int:
        return sum(len(chunks) for _, chunks, _ in self.contents.values())


def _prepared_key(settings: Settings) -> tuple:
    want = wanted_manifest(settings, [])
    return (want.model, want.chunker)


def wanted_manifest(settings: Settings, roots: list[str], dim: int = 0) -> Manifest:
    from rag.embedding.model_files import model_id

    return Manifest(format=FORMAT_VERSION, model=model_id(settings), dim=dim,
                    chunker=ChunkerSettings(CHUNKER_VERSION, settings.chunk_tokens,
                                            settings.chunk_overlap),
                    roots=tuple(roots))


def rebuild_reason(old: Manifest | None, settings: Settings) -> str:
    """Why the existing index cannot be updated in place ('' when it can)."""
    return old.rebuild_reason(wanted_manifest(settings, [])) if old is not None else ""


def update(root: Path, settings: Settings, paths: list[str] | None, *, full: bool = False,
           add: bool = False, progress: bool = False,
           on_progress: OnProgress | None = None, embedder_factory=None,
           recheck: frozenset[str] = frozenset(),
           prepared: Prepared | None = None, read_new: bool = True) -> UpdateSummary:
    """Bring the index in line with ``paths``. Files in ``recheck`` are read and hashed even
    when their size and mtime say unchanged, and loaded again if they failed before (the
    library's "Re-index"); as always, only a content not embedded yet is embedded, and a
    content in ``prepared`` (read and embedded beforehand, see ``prepare``) is taken from it.
    With ``read_new=False`` nothing is read or embedded: files gone or excluded are removed,
    and new or changed files are left as the index had them, for the update that reads them
    (a delete in the server does not wait for, nor redo, another update's reading)."""
    t0 = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        log.info("%s", message)  # with -v the phases of a build show, timed, on stderr
        if on_progress:
            on_progress(fraction, message)

    named = [p for p in paths or () if not os.path.exists(os.path.expanduser(str(p)))]
    if named:  # before anything is opened or created: a typo makes no empty index either
        raise SourceMissingError([str(p) for p in named])
    with open_store(root, settings).writer() as w:
        old = w.manifest()
        roots = _roots(old, settings, paths, add)
        missing = [r for r in roots if not os.path.exists(r)]
        if missing:  # before any change: a missing source is an error, never a deletion
            raise SourceMissingError(missing)
        known = w.bookkeeping() if old else None
        reason = "--full" if full and old else rebuild_reason(old, settings)
        if not reason and known is not None and known.rebuild_pending:
            reason = "resuming a full rebuild that was interrupted"
        if reason:
            w.reset()  # recorded before any work, so that a killed rebuild is resumed
        report(0.0, "reading files")
        plan = _plan(roots, known if old and not reason else None,
                     exclusions.read(root), settings, recheck)
        if not read_new and known is not None and not reason:
            _known_only(plan)
        summary = _classify(plan)
        if old and not reason and not _changed(summary, plan, roots, old):
            w.merge()  # finish a merge a killed run left undone (a no-op otherwise)
            return _summary(summary, plan, w.stats().chunks, 0, "", t0)
        new_shas = _to_embed(plan)
        ready, ready_bad = _take(prepared, new_shas, settings)
        todo = {sha: f for sha, f in new_shas.items() if sha not in ready and sha not in ready_bad}
        loaded, _ = _load_contents(plan, todo, progress, settings, ready_bad)
        chunked = _chunk(loaded, settings)
        n_new = sum(len(chunks) for _, chunks in chunked.values())
        if n_new or prepared is None:  # after a prepare, "embedding 0 chunks" would mislead
            report(0.1, f"embedding {n_new} chunks")
        embedder = (embedder_factory or _default_embedder)(settings) if n_new else None
        vectors = _embed(embedder, chunked, progress, report if on_progress else None)
        report(0.9, "writing the index")
        keep = {f.sha for f in plan.files.values()}
        for sha in sorted(plan.old_contents - keep):
            w.delete(sha)
        at = 0
        for sha, (pages, chunks) in chunked.items():
            w.upsert(sha, pages, chunks, vectors[at:at + len(chunks)] if chunks else
                     np.zeros((0, 0), np.float32))
            at += len(chunks)
        for sha, (pages, chunks, vecs) in ready.items():
            w.upsert(sha, pages, chunks, vecs)
        w.set_files([FileRecord(f.path, f.sha, f.size, f.mtime_ns) for f in plan.files.values()],
                    plan.skipped)
        dims = [int(v.shape[1]) for v in [vectors, *(r[2] for r in ready.values())]
                if v is not None and v.size]
        dim = dims[0] if dims else (old.dim if old and not reason else 0)
        n_new += sum(len(chunks) for _, chunks, _ in ready.values())
        stats = w.commit(wanted_manifest(settings, roots, dim))
        report(1.0, "done")
        return _summary(summary, plan, stats.chunks, n_new, reason, t0)


#: Seconds between progress reports while embedding for a caller that watches (the page's
#: uploads): after every encode batch once this much time has passed (a report per fixed
#: number of chunks froze an upload of 136 chunks at "10%" until it was done).
REPORT_SECONDS = 0.5


def prepare(root: Path, settings: Settings, paths: list[str], *,
            on_progress: OnProgress | None = None, embedder_factory=None,
            recheck: frozenset[str] = frozenset(), progress: bool = False) -> Prepared:
    """Read, chunk and embed the contents under ``paths`` that the index's last committed
    state does not hold, without taking the writer: a Prepared for ``update``. Nothing is
    written; the index may change meanwhile (``update`` plans again and takes from the
    Prepared only what it still needs). A path that does not exist is an error, as in
    ``update``, before anything is read."""
    named = [p for p in paths if not os.path.exists(os.path.expanduser(str(p)))]
    if named:
        raise SourceMissingError([str(p) for p in named])

    def report(fraction: float, message: str) -> None:
        log.info("%s", message)
        if on_progress:
            on_progress(fraction, message)

    known = None
    store = open_store(root, settings)
    if store.generation() > 0:
        snap = store.reader()
        try:
            if not rebuild_reason(snap.manifest, settings):
                known = snap.bookkeeping()
        finally:
            snap.close()
    report(0.0, "reading files")
    plan = _plan([str(Path(p).expanduser().resolve()) for p in paths], known,
                 exclusions.read(root), settings, recheck)
    new_shas = _to_embed(plan)
    loaded, bad = _load_contents(plan, new_shas, progress, settings)
    chunked = _chunk(loaded, settings)
    n_new = sum(len(chunks) for _, chunks in chunked.values())
    report(0.1, f"embedding {n_new} chunks")
    embedder = (embedder_factory or _default_embedder)(settings) if n_new else None
    vectors = _embed(embedder, chunked, progress, report if on_progress else None)
    contents, at = {}, 0
    for sha, (pages, chunks) in chunked.items():
        contents[sha] = (pages, chunks, vectors[at:at + len(chunks)] if chunks else
                         np.zeros((0, 0), np.float32))
        at += len(chunks)
    return Prepared(_prepared_key(settings), contents, bad)


def _default_embedder(settings: Settings):
    from rag.embedding.local import embedder_for

    return embedder_for(settings)


def _roots(old: Manifest | None, settings: Settings, paths: list[str] | None,
           add: bool) -> list[str]:
    previous = list(old.roots) if old else []
    if paths is None:
        chosen = previous or list(settings.docs)
    elif add:
        chosen = previous + list(paths)
    else:
        chosen = list(paths)
    resolved = [str(Path(p).expanduser().resolve()) for p in chosen]
    return list(dict.fromkeys(resolved))


def _plan(roots: list[str], old: Bookkeeping | None,
          excluded: frozenset[str] = frozenset(), settings: Settings | None = None,
          recheck: frozenset[str] = frozenset()) -> _Plan:
    found, skipped = filesmod.discover(
        roots, settings.follow_outside_symlinks if settings is not None else None)
    found = [p for p in found if str(p) not in excluded]  # removed by the user (exclusions)
    files: dict[str, filesmod.FoundFile] = {}
    for p in found:
        try:
            too_big = filesmod.too_large(p, settings) if settings is not None else ""
            if too_big:
                skipped.append(Skipped(str(p), too_big))
                continue
            known = old.files.get(str(p)) if old is not None else None
            same = filesmod.unchanged(p, known, old.stamps.get(str(p))) if known and (
                known in old.contents or known in old.bad) and str(p) not in recheck else None
            files[str(p)] = same or filesmod.read(p)
        except OSError as e:
            skipped.append(Skipped(str(p), f"cannot read file: {e.strerror or e}"))
    plan = _Plan(files=files, skipped=skipped)
    if old is not None:
        plan.old_files = dict(old.files)
        plan.old_contents = set(old.contents)
        plan.old_bad = dict(old.bad)
        for path in recheck:  # a file that failed to load is tried again
            if path in files:
                plan.old_bad.pop(files[path].sha, None)
        plan.skipped += [Skipped(f.path, plan.old_bad[f.sha]) for f in files.values()
                         if f.sha in plan.old_bad]
    return plan


def _known_only(plan: _Plan) -> None:
    """Leave new and changed files out of ``plan``: a new file is not listed yet, a changed
    one keeps its stored content (with no stamp, so that the next update hashes it)."""
    for path, f in list(plan.files.items()):
        if f.sha in plan.old_contents or f.sha in plan.old_bad:
            continue
        before = plan.old_files.get(path)
        if before is None:
            del plan.files[path]
        else:
            plan.files[path] = filesmod.FoundFile(path, before, f.size, None, 0)


def _classify(plan: _Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "removed": []}
    for path, f in plan.files.items():
        before = plan.old_files.get(path)
        key = "added" if before is None else "unchanged" if before == f.sha else "updated"
        out[key].append(path)
    out["removed"] = sorted(set(plan.old_files) - set(plan.files))
    return out


def _changed(summary: dict, plan: _Plan, roots: list[str], old: Manifest) -> bool:
    if summary["added"] or summary["updated"] or summary["removed"]:
        return True
    if list(old.roots) != roots:
        return True
    # a file that failed to load before and is still there: nothing to redo
    return any(f.sha not in plan.old_contents and f.sha not in plan.old_bad
               for f in plan.files.values())


def _to_embed(plan: _Plan) -> dict[str, filesmod.FoundFile]:
    todo: dict[str, filesmod.FoundFile] = {}
    for f in plan.files.values():
        if f.sha not in plan.old_contents and f.sha not in plan.old_bad:
            todo.setdefault(f.sha, f)
    return todo


def _take(prepared: Prepared | None, new_shas: dict[str, filesmod.FoundFile],
          settings: Settings) -> tuple[dict, dict[str, str]]:
    """What ``prepared`` holds of the contents this update needs: (sha -> pages, chunks,
    vectors) and (sha -> why it failed to load). Nothing when it was made for another model
    or chunker."""
    if prepared is None or prepared.key != _prepared_key(settings):
        return {}, {}
    return ({sha: prepared.contents[sha] for sha in new_shas if sha in prepared.contents},
            {sha: prepared.bad[sha] for sha in new_shas if sha in prepared.bad})


def _load_contents(plan: _Plan, todo: dict[str, filesmod.FoundFile], progress: bool,
                   settings: Settings | None = None, known_bad: dict[str, str] | None = None
                   ) -> tuple[dict[str, list[Page]], dict[str, str]]:
    """Load each new content once; failures (and ``known_bad``, failures found before) join
    ``plan.skipped`` with their reason. Returns the pages and the failures by content."""
    from tqdm import tqdm

    loaded: dict[str, list[Page]] = {}
    bad: dict[str, str] = dict(known_bad or {})
    items = list(todo.items())
    for sha, f in tqdm(items, desc="loading", unit="file", disable=not progress or len(items) < 2):
        try:
            loaded[sha] = load(Path(f.path), f.data, settings)
        except LoadError as e:
            bad[sha] = str(e)
        except Exception as e:  # noqa: BLE001 - a broken file must never stop the others
            log.exception("unexpected error loading %s", f.path)
            bad[sha] = f"cannot be read: {type(e).__name__}: {e}"
    for f in plan.files.values():
        if f.sha in bad:
            plan.skipped.append(Skipped(f.path, bad[f.sha]))
    return loaded, bad


def _chunk(loaded: dict[str, list[Page]], settings: Settings) -> dict[str, tuple[list[Page],
                                                                                list[Chunk]]]:
    if not loaded:
        return {}
    from rag.embedding.model_files import token_offsets, tokenizer_name

    offsets = token_offsets(tokenizer_name(settings))
    return {sha: (pages, chunk_pages(pages, offsets, settings.chunk_tokens,
                                     settings.chunk_overlap))
            for sha, pages in loaded.items()}


def _embed(embedder, chunked: dict, progress: bool,
           report: OnProgress | None = None) -> np.ndarray | None:
    """All new chunks' vectors, encoded as background work (questions go between batches);
    with ``report``, the caller sees chunks done / total and an estimate of the time left."""
    texts = [index_text(c) for _, chunks in chunked.values() for c in chunks]
    if not texts:
        return None
    t0 = time.perf_counter()
    last = [t0]

    def on_batch(done: int, total: int) -> None:
        now = time.perf_counter()
        if report is not None and (now - last[0] >= REPORT_SECONDS or done == total):
            last[0] = now
            left = (now - t0) / done * (total - done)
            report(0.1 + 0.8 * done / total,
                   f"embedding: {done}/{total} chunks, about {left:.0f} s left")

    return embedder.encode(texts, progress=progress, on_batch=on_batch, background=True)


def _summary(s: dict, plan: _Plan, total: int, embedded: int, reason: str,
             t0: float) -> UpdateSummary:
    bad = {k.path for k in plan.skipped}

    def ok(key: str) -> tuple[str, ...]:
        return tuple(p for p in s[key] if p not in bad)

    return UpdateSummary(added=ok("added"), updated=ok("updated"),
                         removed=tuple(s["removed"]), unchanged=ok("unchanged"),
                         skipped=tuple(plan.skipped), chunks=total, embedded=embedded,
                         full_rebuild=bool(reason), reason=reason,
                         seconds=round(time.perf_counter() - t0, 3))


