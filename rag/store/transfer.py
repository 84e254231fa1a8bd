"""Moving an index between stores without embedding anything again: ``docchat export`` writes
a portable file (a tar of JSON + one .npy: manifest, files, skipped files, every content's pages
and chunks, and their vectors) and ``docchat import`` writes it into any store (FAISS folder,
milvus-lite, a Milvus server) through the same Writer protocol the builder uses.

The export reads one snapshot, so it is consistent even while a writer commits. The file holds
everything in memory while it is written or read (fine for hundreds of thousands of chunks; a
streaming format would be the next step for tens of millions).
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import DocchatError
from rag.store import FileRecord, Manifest, Reader, Store
from rag.types import Chunk, Page, Skipped

KIND = "docchat-export"
VERSION = 1


class ExportError(DocchatError):
    """An export file cannot be read or written; the message says why."""


@dataclass(frozen=True)
class TransferSummary:
    files: int
    contents: int
    chunks: int


def export(snap: Reader, path: str | Path) -> TransferSummary:
    """Write ``snap`` (a committed state) to ``path`` (atomically: a temporary file renamed)."""
    book = snap.bookkeeping()
    sizes = {d.path: d.size for d in snap.documents()}
    files = [{"path": p, "sha": sha, "size": book.stamps.get(p, (sizes.get(p, 0), 0))[0],
              "mtime_ns": book.stamps.get(p, (0, 0))[1]} for p, sha in sorted(book.files.items())]
    contents, vectors = [], []
    # in commit order (chunk ids): an import assigns ids in the same order, so rankings that
    # break score ties by id break them the same way
    held = sorted((snap.content(sha) for sha in book.contents),
                  key=lambda c: (c.ids[0] if c.ids else -1, c.sha))
    for c in held:
        sha = c.sha
        contents.append({"sha": sha,
                         "pages": [{"page": p.page, "label": p.label, "text": p.text,
                                    "structure": [list(s) for s in p.structure]} for p in c.pages],
                         "chunks": [{"page": k.page, "start": k.start, "end": k.end,
                                     "text": k.text, "label": k.label, "context": k.context,
                                     "structure": [list(s) for s in k.structure]}
                                    for k in c.chunks]})
        if len(c.chunks):
            vectors.append(np.asarray(c.vectors, np.float32))
    dim = snap.manifest.dim
    vecs = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    meta = {"kind": KIND, "version": VERSION, "manifest": snap.manifest.to_json(),
            "chunks": int(len(vecs))}
    skipped = [{"path": s.path, "reason": s.reason} for s in snap.skipped()]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            for name, data in (("meta.json", json.dumps(meta).encode()),
                               ("files.jsonl", _jsonl(files)), ("skipped.jsonl", _jsonl(skipped)),
                               ("contents.jsonl", _jsonl(contents)), ("vectors.npy", _npy(vecs))):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, path)
    except BaseException as exc:  # a full disk, say: no partial file left to hold the space
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # named as the user typed it, not the temporary file
            raise ExportError(f"cannot write {path}: "
                              f"{exc.strerror or exc.__class__.__name__}") from exc
        raise
    return TransferSummary(len(files), len(contents), int(len(vecs)))


def import_into(store: Store, path: str | Path, replace: bool = False) -> TransferSummary:
    """Write the export ``path`` into ``store`` as one commit (nothing is embedded). An
    existing index there is refused unless ``replace``."""
    meta, files, skipped, contents, vecs = _read(Path(path))
    if store.exists() and not replace:
        raise ExportError("the target store already holds an index: pass --replace to "
                          "overwrite it")
    manifest = Manifest.from_json(meta["manifest"])
    with store.writer() as w:
        w.reset()
        at = 0
        for c in contents:
            chunks = [Chunk(page=k["page"], start=k["start"], end=k["end"], text=k["text"],
                            label=k["label"], context=k["context"],
                            structure=tuple(tuple(s) for s in k["structure"]))
                      for k in c["chunks"]]
            pages = [Page(path="", page=p["page"], text=p["text"], label=p["label"],
                          structure=tuple(tuple(s) for s in p["structure"])) for p in c["pages"]]
            w.upsert(c["sha"], pages, chunks, vecs[at:at + len(chunks)])
            at += len(chunks)
        w.set_files([FileRecord(f["path"], f["sha"], f["size"], f["mtime_ns"]) for f in files],
                    [Skipped(s["path"], s["reason"]) for s in skipped])
        w.commit(manifest)
    return TransferSummary(len(files), len(contents), at)


def _read(path: Path):
    try:
        with tarfile.open(path, "r") as tar:
            def member(name: str) -> bytes:
                f = tar.extractfile(name)
                if f is None:
                    raise KeyError(name)
                return f.read()

            meta = json.loads(member("meta.json"))
            if meta.get("kind") != KIND or meta.get("version") != VERSION:
                raise ExportError(f"{path}: not a docchat export (version {VERSION})")
            files = _unjsonl(member("files.jsonl"))
            skipped = _unjsonl(member("skipped.jsonl"))
            contents = _unjsonl(member("contents.jsonl"))
            vecs = np.load(io.BytesIO(member("vectors.npy")), allow_pickle=False)
    except (OSError, tarfile.TarError, KeyError, ValueError) as e:
        why = " ".join(str(e).split())  # one line: tarfile's reason for a non-tar runs over five
        raise ExportError(f"{path}: cannot read the export ({why})") from e
    n = sum(len(c["chunks"]) for c in contents)
    if len(vecs) != n or n != meta.get("chunks"):
        raise ExportError(f"{path}: {len(vecs)} vectors for {n} chunks: the file is damaged")
    return meta, files, skipped, contents, vecs


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _unjsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
