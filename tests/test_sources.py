"""A source that is missing (a typo, an unmounted drive) is an error that changes nothing,
never "all its files were deleted" (issue 20, item 1)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import clean_env, docchat

from rag.errors import SourceMissingError
from rag.index import Index
from rag.settings import Settings


class HashEmbedder:
    """The vector of a text depends only on the text (no model: this is about bookkeeping)."""

    def encode(self, texts, progress=False, **_):
        out = []
        for t in texts:
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:12], 16)
            v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def build(tmp_path, n=5):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        (docs / f"note{i}.txt").write_text(f"Note {i} says the falcon nests in quarry {i}.\n")
    root = tmp_path / "index"
    idx = Index(root, Settings(index_dir=str(root)), embedder=HashEmbedder())
    idx.update([docs])
    return idx, docs


def test_a_source_folder_gone_for_a_while_keeps_its_documents(tmp_path):
    idx, docs = build(tmp_path)
    away = tmp_path / "unmounted"
    docs.rename(away)
    with pytest.raises(SourceMissingError, match="source not found"):
        idx.update()
    assert idx.status().files == 5
    assert idx.search("falcon quarry 3", 3)
    away.rename(docs)  # the drive is back: nothing to do, nothing embedded again
    s = idx.update()
    assert (s.added, s.removed, s.embedded) == ((), (), 0)
    assert idx.status().files == 5


def test_a_mistyped_path_on_the_command_line_is_one_line_and_loses_nothing(tmp_path):
    idx, docs = build(tmp_path)
    r = docchat("index", "--index", idx.root, tmp_path / "dcos", env=clean_env())
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "source not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert idx.status().files == 5


def test_naming_the_sources_to_keep_drops_the_others_explicitly(tmp_path):
    idx, docs = build(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "kept.txt").write_text("The kept note is about a heron.\n")
    s = idx.update([other])  # the user names what to keep: docs' files go, on purpose
    assert len(s.removed) == 5 and idx.status().files == 1
