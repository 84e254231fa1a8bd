"""The incremental build plan (rag/indexing.py) over the embedded store: content hashes are
identity, so only a content not embedded yet is embedded (a changed file, a new one; never a
renamed or copied one, never on a rerun); a removed file's chunks go; a file that cannot be
read is skipped with its reason and not tried again until it changes or is rechecked; a new
chunker version rebuilds everything once; a rebuild killed before its commit is resumed.

Real files, loaders, chunker and store; the model is the text-hash embedder (tests/fakes.py),
wrapped to record what it is asked to embed."""
from __future__ import annotations

from pathlib import Path

import pytest

from fakes import HashEmbedder
from rag import indexing
from rag.errors import SourceMissingError
from rag.store import open_store
from rag.settings import Settings

DIM = 16


class Recorder(HashEmbedder):
    """The text-hash embedder, remembering every text it encoded and every time it was made."""

    def __init__(self) -> None:
        super().__init__(DIM)
        self.texts: list[str] = []
        self.made = 0

    def __call__(self, settings):  # the embedder_factory
        self.made += 1
        return self

    def encode(self, texts, progress=False, **kw):
        self.texts += list(texts)
        return super().encode(texts, progress, **kw)


@pytest.fixture
def env(tmp_path):
    docs, root = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "river.txt").write_text("The river floods every spring near the old mill.")
    (docs / "falcon.txt").write_text("Falcons nest in the quarry above the village.")
    (docs / "sub").mkdir()
    (docs / "sub" / "canal.md").write_text("# Canal\n\nThe canal was dug in 1790 for coal.")
    s = Settings(index_dir=str(root), chunk_tokens=40, chunk_overlap=0, merge_background=False)
    return docs, root, s


def run(env, emb: Recorder | None = None, paths: list[str] | None | str = "docs", **kw):
    """One update of ``paths`` (by default the docs folder; None: the roots the index has)."""
    docs, root, s = env
    emb = emb or Recorder()
    summary = indexing.update(root, s, [str(docs)] if paths == "docs" else paths,
                              embedder_factory=emb, **kw)
    return summary, emb


def stored_texts(root: Path) -> list[str]:
    snap = open_store(root).reader()
    return sorted(r.text for r in snap.chunks(list(snap.search_lexical(
        "river falcons canal quarry mill spring village coal heron", 100))))


def names(paths) -> list[str]:
    return sorted(Path(p).name for p in paths)


def test_the_first_build_embeds_every_file_and_a_rerun_embeds_nothing(env):
    first, emb = run(env)
    assert names(first.added) == ["canal.md", "falcon.txt", "river.txt"]
    assert first.embedded == first.chunks == len(emb.texts) >= 3 and not first.full_rebuild
    again, emb2 = run(env)
    assert emb2.made == 0 and emb2.texts == []  # the model is not even made
    assert again.embedded == 0 and again.chunks == first.chunks
    assert names(again.unchanged) == names(first.added) and not again.added


def test_only_the_changed_and_the_new_file_are_embedded(env):
    docs, root, _ = env
    run(env)
    (docs / "river.txt").write_text("The river froze solid in January.")
    (docs / "heron.txt").write_text("A heron waits by the weir.")
    summary, emb = run(env)
    assert names(summary.updated) == ["river.txt"] and names(summary.added) == ["heron.txt"]
    assert sorted(emb.texts) == sorted(["The river froze solid in January.",
                                        "A heron waits by the weir."])
    texts = stored_texts(root)
    assert "The river froze solid in January." in texts
    assert not any("floods" in t for t in texts)


def test_a_renamed_or_copied_file_is_not_embedded_again(env):
    docs, root, _ = env
    run(env)
    (docs / "falcon.txt").rename(docs / "birds.txt")
    (docs / "sub" / "canal-copy.md").write_bytes((docs / "sub" / "canal.md").read_bytes())
    summary, emb = run(env)
    assert emb.texts == [] and summary.embedded == 0
    assert names(summary.removed) == ["falcon.txt"]
    assert names(summary.added) == ["birds.txt", "canal-copy.md"]
    snap = open_store(root).reader()
    (hit,) = snap.chunks(list(snap.search_lexical("falcons quarry", 1)))
    assert Path(hit.path).name == "birds.txt"


def test_a_deleted_file_takes_its_chunks_with_it(env):
    docs, root, _ = env
    first, _ = run(env)
    (docs / "falcon.txt").unlink()
    summary, emb = run(env)
    assert names(summary.removed) == ["falcon.txt"] and emb.made == 0
    assert summary.chunks == first.chunks - 1
    assert not any("Falcons" in t for t in stored_texts(root))
    again, _ = run(env)  # a deletion-only run kept the manifest: no rebuild follows
    assert not again.full_rebuild and again.embedded == 0


def test_an_unreadable_file_is_skipped_with_its_reason_and_not_loaded_again(env, monkeypatch):
    docs, root, _ = env
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf at all")
    first, _ = run(env)
    (bad,) = [k for k in first.skipped if Path(k.path).name == "broken.pdf"]
    assert bad.reason and "broken.pdf" not in names(first.added)
    loads = []
    real = indexing.load
    monkeypatch.setattr(indexing, "load", lambda *a: loads.append(a[0]) or real(*a))
    (docs / "heron.txt").write_text("A heron waits by the weir.")  # a run that loads
    again, _ = run(env)
    assert [p.name for p in loads] == ["heron.txt"]  # known bad content: not loaded again
    loads.clear()
    assert [(Path(k.path).name, k.reason) for k in again.skipped] == [("broken.pdf", bad.reason)]
    rechecked, _ = run(env, recheck=frozenset({str(docs / "broken.pdf")}))
    assert [p.name for p in loads] == ["broken.pdf"]
    assert [Path(k.path).name for k in rechecked.skipped] == ["broken.pdf"]
    (docs / "broken.pdf").unlink()
    gone, _ = run(env)
    assert gone.skipped == () and open_store(root).reader().skipped() == ()


def test_a_file_over_the_size_limit_is_skipped_and_says_which_setting(env):
    docs, root, s = env
    (docs / "huge.txt").write_text("word " * 60_000)  # about 0.3 MiB
    summary = indexing.update(root, Settings(**{**s.__dict__, "max_text_file_mb": 0.1}),
                              [str(docs)], embedder_factory=Recorder())
    (big,) = summary.skipped
    assert Path(big.path).name == "huge.txt" and "DOCCHAT_MAX_TEXT_FILE_MB" in big.reason


def test_a_new_chunker_version_rebuilds_everything_once(env, monkeypatch):
    first, _ = run(env)
    monkeypatch.setattr(indexing, "CHUNKER_VERSION", indexing.CHUNKER_VERSION + 1)
    summary, emb = run(env)
    assert summary.full_rebuild and summary.reason.startswith("chunker changed")
    assert len(emb.texts) == summary.embedded == first.chunks
    again, emb2 = run(env)
    assert not again.full_rebuild and emb2.texts == []


def test_a_rebuild_killed_while_embedding_keeps_the_old_index_and_is_resumed(env, monkeypatch):
    _, root, _ = env
    first, _ = run(env)
    monkeypatch.setattr(indexing, "CHUNKER_VERSION", indexing.CHUNKER_VERSION + 1)

    class Dying(Recorder):
        def encode(self, texts, progress=False, **kw):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(env, Dying())
    assert len(stored_texts(root)) == first.chunks  # readers still see the old index
    monkeypatch.undo()  # even with the old chunker again, the started rebuild is finished
    summary, emb = run(env)
    assert summary.full_rebuild and summary.reason.startswith("resuming a full rebuild")
    assert len(emb.texts) == first.chunks


def test_a_missing_source_is_an_error_that_creates_and_deletes_nothing(env, tmp_path):
    docs, root, _ = env
    with pytest.raises(SourceMissingError):
        run(env, paths=[str(tmp_path / "no-such-folder")])
    assert not root.exists()
    run(env)
    moved = tmp_path / "elsewhere"
    docs.rename(moved)  # the recorded root is gone: an error, never "every file removed"
    with pytest.raises(SourceMissingError):
        run(env, paths=None)
    moved.rename(docs)
    summary, emb = run(env, paths=None)
    assert summary.removed == () and emb.made == 0


def test_adding_a_root_keeps_the_old_ones(env, tmp_path):
    docs, root, _ = env
    other = tmp_path / "other"
    other.mkdir()
    (other / "heron.txt").write_text("A heron waits by the weir.")
    run(env)
    summary, emb = run(env, paths=[str(other)], add=True)
    assert names(summary.added) == ["heron.txt"] and not summary.removed
    assert emb.texts == ["A heron waits by the weir."]
    assert open_store(root).reader().manifest.roots == (str(docs.resolve()),
                                                         str(other.resolve()))


# --- prepare: reading and embedding before the update (the server's uploads and refreshes) ---

def test_an_update_takes_prepared_contents_without_reading_or_embedding_them_again(
        env, monkeypatch):
    docs, root, s = env
    run(env)
    (docs / "heron.txt").write_text("A heron waits by the weir.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf at all")
    loads = []
    real = indexing.load
    monkeypatch.setattr(indexing, "load", lambda *a: loads.append(a[0].name) or real(*a))
    early = Recorder()
    prepared = indexing.prepare(root, s, [str(docs)], embedder_factory=early)
    assert sorted(loads) == ["broken.pdf", "heron.txt"]  # only what the index lacks
    assert early.texts and all("heron" in t for t in early.texts)
    assert open_store(root).reader().stats().files == 3  # nothing written
    loads.clear()
    late = Recorder()
    summary, _ = run(env, late, prepared=prepared)
    assert loads == [] and late.made == 0  # neither read nor embedded again
    assert names(summary.added) == ["heron.txt"] and summary.embedded == prepared.chunks > 0
    (bad,) = summary.skipped  # a failure found while preparing is recorded, not retried
    assert Path(bad.path).name == "broken.pdf" and bad.reason
    assert any("heron" in t for t in stored_texts(root))
    # the same as an update that did everything itself
    again, _ = run(env)
    assert again.embedded == 0 and not again.added and not again.updated


def test_a_file_changed_after_it_was_prepared_is_read_again_and_its_old_vectors_unused(env):
    docs, root, s = env
    run(env)
    (docs / "heron.txt").write_text("A heron waits by the weir.")
    prepared = indexing.prepare(root, s, [str(docs)], embedder_factory=Recorder())
    (docs / "heron.txt").write_text("A heron waits by the mill race at dawn.")
    late = Recorder()
    summary, _ = run(env, late, prepared=prepared)
    assert names(summary.added) == ["heron.txt"]
    assert late.texts and all("mill race" in t for t in late.texts)
    stored = [t for t in stored_texts(root) if "heron" in t]
    assert stored and all("mill race" in t and "weir" not in t for t in stored)


def test_contents_prepared_for_other_chunker_settings_are_not_used(env):
    docs, root, s = env
    run(env)
    (docs / "heron.txt").write_text("A heron waits by the weir.")
    other = Settings(index_dir=s.index_dir, chunk_tokens=s.chunk_tokens + 8, chunk_overlap=0,
                     merge_background=False)
    prepared = indexing.prepare(root, other, [str(docs)], embedder_factory=Recorder())
    late = Recorder()
    run(env, late, prepared=prepared)
    assert late.texts and all("heron" in t for t in late.texts)  # embedded by the update


def test_an_update_that_reads_nothing_new_applies_removals_and_leaves_the_rest(env, monkeypatch):
    """read_new=False (a delete in the server): gone files are removed at once; a new file and
    a changed one are neither read nor recorded, so the next update takes them in."""
    docs, root, s = env
    run(env)
    (docs / "falcon.txt").unlink()
    (docs / "heron.txt").write_text("A heron waits by the weir.")
    (docs / "river.txt").write_text("The river froze in the winter of 1929.")
    loads = []
    real = indexing.load
    monkeypatch.setattr(indexing, "load", lambda *a: loads.append(a[0].name) or real(*a))
    summary, emb = run(env, read_new=False)
    assert loads == [] and emb.made == 0
    assert names(summary.removed) == ["falcon.txt"] and not summary.added and not summary.updated
    texts = stored_texts(root)
    assert not any("Falcons" in t for t in texts) and not any("heron" in t for t in texts)
    assert any("floods every spring" in t for t in texts)  # the old river, until read
    later, _ = run(env)
    assert names(later.added) == ["heron.txt"] and names(later.updated) == ["river.txt"]
    texts = stored_texts(root)
    assert any("froze" in t for t in texts) and not any("floods" in t for t in texts)
