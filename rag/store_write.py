"""Writing the next index generation from the previous one plus the changes of a run."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag import store


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_generation(root: Path, manifest: dict, old: store.Snapshot | None, plan, chunked: dict,
                     vectors: np.ndarray | None) -> int:
    """Build the next generation in a temporary folder and publish it. Returns its chunk count."""
    import faiss

    name = store.next_generation_name(root)
    tmp = root / f".build-{os.getpid()}-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    db = store.create_db(tmp / "meta.sqlite", old.path / "meta.sqlite" if old else None)
    try:
        index = _vectors(old, vectors, faiss)
        keep = {f.sha for f in plan.files.values()}
        _drop(db, index, [sha for sha in plan.old_contents if sha not in keep])
        _insert(db, index, chunked, vectors)
        _files(db, plan)
        db.commit()
        # the lexical text is rag.chunking.index_text's: heading path, then the chunk
        rows = db.execute("SELECT id, CASE WHEN coalesce(context, '') = '' THEN trim(text) "
                          "ELSE context || char(10) || trim(text) END FROM chunks "
                          "ORDER BY id").fetchall()
        n_files = db.execute("SELECT count(*) FROM files f WHERE EXISTS "
                             "(SELECT 1 FROM contents c WHERE c.sha = f.sha)").fetchone()[0]
    finally:
        db.close()
    if index is not None:
        faiss.write_index(index, str(tmp / "vectors.faiss"))
    store.save_bm25(tmp, [r[0] for r in rows], [r[1] for r in rows])
    manifest = dict(manifest, dim=int(index.d) if index is not None else 0, built_at=now(),
                    files=n_files, chunks=len(rows), generation=name)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    store.publish(root, tmp, name)
    return len(rows)


def _vectors(old: store.Snapshot | None, vectors: np.ndarray | None, faiss):
    if old is not None and (old.path / "vectors.faiss").exists():
        return faiss.read_index(str(old.path / "vectors.faiss"))
    if vectors is None:
        return None
    return faiss.IndexIDMap2(faiss.IndexFlatIP(int(vectors.shape[1])))


def _drop(db, index, shas: list[str]) -> None:
    for sha in shas:
        ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE sha = ?", (sha,))]
        if ids and index is not None:
            index.remove_ids(np.asarray(ids, dtype=np.int64))
        for table in ("chunks", "pages", "contents"):
            db.execute(f"DELETE FROM {table} WHERE sha = ?", (sha,))


def _insert(db, index, chunked: dict, vectors: np.ndarray | None) -> None:
    next_id = (db.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0) + 1
    ids: list[int] = []
    for sha, (pages, chunks) in chunked.items():
        db.execute("INSERT OR REPLACE INTO contents VALUES (?, ?, ?)", (sha, len(pages), len(chunks)))
        db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?)",
                       [(sha, p.page, p.label, p.text) for p in pages])
        for c in chunks:
            db.execute('INSERT INTO chunks (id, sha, page, start, "end", label, text, context, '
                       "structure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (next_id, sha, c.page, c.start, c.end, c.label, c.text, c.context,
                        json.dumps(c.structure) if c.structure else ""))
            ids.append(next_id)
            next_id += 1
    if ids and index is not None and vectors is not None:
        if vectors.shape[1] != index.d:
            raise ValueError(f"vector dimension {vectors.shape[1]} != index dimension {index.d}")
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))


def _files(db, plan) -> None:
    stamp = now()
    current = plan.files
    db.execute("CREATE TEMP TABLE keep(path TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO keep VALUES (?)", [(p,) for p in current])
    db.execute("DELETE FROM files WHERE path NOT IN (SELECT path FROM keep)")
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
        "indexed_at = CASE WHEN files.sha = excluded.sha THEN files.indexed_at "
        "ELSE excluded.indexed_at END, sha = excluded.sha, size = excluded.size",
        [(f.path, f.sha, f.size, stamp) for f in current.values()])
    db.execute("DELETE FROM skipped")
    db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?)",
                   [(s.path, current[s.path].sha if s.path in current else None, s.reason)
                    for s in plan.skipped])
