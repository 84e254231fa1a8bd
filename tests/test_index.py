"""Incremental indexing through the real Index API and CLI: only changed content is embedded,
renames and duplicates cost nothing, settings changes rebuild by themselves."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import clean_env, docchat, make_pdf

from rag.embedding.model_files import model_dir
from rag.index import Index
from rag.settings import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

DOCS = {
    "rivers.txt": "The Zambezi river plunges over Victoria Falls. Spray rises hundreds of metres. "
                  "Locals call the falls the smoke that thunders.",
    "bridges.md": "# Bridges\nThe Golden Gate bridge opened in 1937. Its towers are painted "
                  "international orange. Fog often hides the deck.",
    "volcanoes.txt": "Mount Etna on Sicily erupts several times a decade. Lava flows have "
                     "reached the town of Catania. Farmers grow pistachios on its slopes.",
}
# Runs ``docchat ARGS`` in-process in a fresh interpreter and reports which heavy modules it
# imported: the command's own output, then one marker line.
PROBE = ("import json, sys\nfrom rag.cli import main\nrc = main(sys.argv[1:])\n"
         "print('@@PROBE ' + json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, "
         "'st': 'sentence_transformers' in sys.modules}))")


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def index(tmp_path, docs) -> Index:
    root = tmp_path / "index"
    idx = Index.open(root, Settings(index_dir=str(root)), create=True)
    first = idx.update([docs])
    assert sorted(Path(p).name for p in first.added) == sorted(DOCS)
    assert first.embedded == first.chunks > 0 and not first.skipped
    return idx


def names(paths) -> list[str]:
    return sorted(Path(p).name for p in paths)


def hit_names(idx: Index, query: str) -> list[str]:
    return [Path(h.path).name for h in idx.search(query, k=3)]


def probe(*args: str, **env: str) -> tuple[dict | None, dict]:
    """Run docchat ARGS in a fresh process: (its JSON output, {rc, torch, st})."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=clean_env(**env), timeout=600)
    out, _, marker = proc.stdout.rpartition("@@PROBE ")
    assert marker, proc.stderr
    return (json.loads(out) if out.strip() else None), json.loads(marker)


def test_search_hits_carry_path_page_and_offsets_into_the_page_text(tmp_path, docs, index):
    (docs / "report.pdf").write_bytes(make_pdf(["Summary of the year.",
                                                "Penguins huddle together in the Antarctic."]))
    index.update([docs])
    hits = index.search("penguins antarctic", k=3)
    assert (Path(hits[0].path).name, hits[0].page) == ("report.pdf", 2)
    assert hit_names(index, "Victoria Falls smoke that thunders")[0] == "rivers.txt"
    for h in hits + index.search("Golden Gate orange towers"):
        assert h.text == index.page_text(h.path, h.page)[h.start:h.end]


def test_an_added_file_is_the_only_one_embedded(docs, index):
    before = index.status().chunks
    (docs / "deserts.txt").write_text("The Atacama is the driest desert. Some stations never "
                                      "recorded rain.")
    s = index.update([docs])
    assert names(s.added) == ["deserts.txt"] and names(s.unchanged) == sorted(DOCS)
    assert s.embedded == 1 and s.chunks == before + 1  # one short file: one new chunk
    assert hit_names(index, "driest desert Atacama")[0] == "deserts.txt"


def test_a_changed_file_is_reembedded_and_its_old_text_is_gone(docs, index):
    (docs / "rivers.txt").write_text("The Amazon carries more water than any other river.")
    s = index.update([docs])
    assert names(s.updated) == ["rivers.txt"] and not s.added and not s.removed
    assert s.embedded == 1
    texts = [h.text for h in index.search("Zambezi Victoria Falls", k=10)]
    assert not any("Zambezi" in t for t in texts)
    assert "Amazon" in index.search("which river carries the most water", k=1)[0].text


def test_a_deleted_file_is_removed_with_its_chunks(docs, index):
    before = index.status()
    (docs / "volcanoes.txt").unlink()
    s = index.update([docs])
    assert names(s.removed) == ["volcanoes.txt"] and s.embedded == 0
    after = index.status()
    assert (after.files, after.chunks) == (before.files - 1, s.chunks)
    assert index.snapshot().stats().vectors == after.chunks  # the old vectors are tombstoned
    assert "volcanoes.txt" not in hit_names(index, "Mount Etna lava Catania")


def test_a_renamed_file_is_not_reembedded_and_hits_carry_the_new_name(docs, index):
    (docs / "rivers.txt").rename(docs / "africa-rivers.txt")
    s = index.update([docs])
    assert names(s.added) == ["africa-rivers.txt"] and names(s.removed) == ["rivers.txt"]
    assert s.embedded == 0
    assert hit_names(index, "Victoria Falls")[0] == "africa-rivers.txt"


def test_the_same_content_under_two_names_is_embedded_once(tmp_path, docs):
    shutil.copy(docs / "rivers.txt", docs / "rivers-copy.txt")
    root = tmp_path / "dup-index"
    s = Index.open(root, Settings(index_dir=str(root)), create=True).update([docs])
    single = Index.open(tmp_path / "single", Settings(), create=True).update(
        [docs / name for name in DOCS])
    assert len(s.added) == 4 and s.embedded == s.chunks == single.chunks


def test_an_unchanged_rerun_embeds_nothing_and_never_loads_the_model(docs, index):
    summary, run = probe("index", str(docs), "--index", str(index.root), "--json")
    assert run == {"rc": 0, "torch": False, "st": False}
    assert summary["embedded"] == 0 and names(summary["unchanged"]) == sorted(DOCS)
    assert not (summary["added"] or summary["updated"] or summary["removed"])


def test_full_reembeds_everything(docs, index):
    s = index.update([docs], full=True)
    assert s.full_rebuild and s.reason == "--full" and s.embedded == s.chunks > 0


def test_a_model_of_another_dimension_triggers_a_full_rebuild_not_a_crash(tmp_path, docs, index):
    from sentence_transformers import SentenceTransformer
    import torch
    try:
        from sentence_transformers.sentence_transformer.modules import Dense
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Dense

    model = SentenceTransformer(str(model_dir(DEFAULT_MODEL)), device="cpu")
    torch.manual_seed(0)
    model.append(Dense(384, 128, activation_function=torch.nn.Identity()))
    other = tmp_path / "minilm-128"
    model.save(str(other))
    idx = Index.open(index.root, Settings(index_dir=str(index.root), embed_model=str(other)))
    s = idx.update([docs])
    assert s.full_rebuild and s.reason.startswith("model changed") and s.embedded == s.chunks
    assert (idx.status().model, idx.status().dim) == (str(other), 128)
    assert hit_names(idx, "Golden Gate bridge")[0] == "bridges.md"


def test_a_model_set_by_environment_variable_triggers_a_full_rebuild(tmp_path, docs, index):
    copy = tmp_path / "my-minilm"
    shutil.copytree(model_dir(DEFAULT_MODEL), copy)
    env = {"DOCCHAT_EMBED_MODEL": str(copy)}
    proc = docchat("index", docs, "--index", index.root, "--json", env=clean_env(**env))
    s = json.loads(proc.stdout)
    assert proc.returncode == 0 and s["full_rebuild"] and "model changed" in s["reason"]
    assert s["embedded"] == s["chunks"] > 0
    status = json.loads(docchat("status", "--index", index.root, "--json").stdout)
    assert status["model"] == str(copy)


def test_a_chunker_setting_change_triggers_a_full_rebuild_once(docs, index):
    before = index.status().chunks
    settings = Settings(index_dir=str(index.root), chunk_tokens=24, chunk_overlap=8)
    idx = Index.open(index.root, settings)
    s = idx.update([docs])
    assert s.full_rebuild and s.reason.startswith("chunker changed")
    assert s.embedded == s.chunks > before  # smaller chunks: more of them
    again = idx.update([docs])
    assert not again.full_rebuild and again.embedded == 0


def test_exit_code_3_when_a_file_is_skipped_and_0_when_none_is(tmp_path, docs):
    (docs / "empty.txt").write_bytes(b"")
    root = tmp_path / "cli-index"
    proc = docchat("index", docs, "--index", root, "--json")
    assert proc.returncode == 3, proc.stderr
    s = json.loads(proc.stdout)
    assert s["skipped"] == [{"path": str((docs / "empty.txt").resolve()), "reason": "empty file"}]
    assert names(s["added"]) == sorted(DOCS)
    (docs / "empty.txt").unlink()
    proc = docchat("index", docs, "--index", root, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["skipped"] == []


def test_status_json_reports_files_chunks_model_and_build_time_without_the_model(index):
    status, run = probe("status", "--index", str(index.root), "--json")
    assert run == {"rc": 0, "torch": False, "st": False}
    assert (status["files"], status["chunks"]) == (3, index.status().chunks)
    assert status["model"] == DEFAULT_MODEL and status["dim"] == 384
    assert datetime.fromisoformat(status["built_at"]).tzinfo is not None


def test_status_of_a_missing_index_says_so(tmp_path):
    proc = docchat("status", "--index", tmp_path / "nothing", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["exists"] is False


def test_warm_up_makes_the_first_search_and_evidence_and_survives_an_empty_index(tmp_path,
                                                                                  index):
    """A server warms up at start (ui/service.py preload): the models, and now the store's
    reader and the evidence's tokenizer (about 100 ms of the first question on the seed: a
    figure for bench_page.py, not asserted here). An index with nothing in it yet warms up
    without error; a warmed one answers as before."""
    from rag.answer import ask

    empty = Index.open(tmp_path / "empty", Settings(index_dir=str(tmp_path / "empty")),
                       create=True)
    empty.warm_up()  # no documents yet: nothing to search, no error
    index.warm_up()
    answer = ask(index, "When did the Golden Gate bridge open?")
    assert not answer.abstained and "1937" in answer.answer
