"""ui/service.py: what the page, the API and MCP share. Here: an upload or a refresh reads
and embeds its new files before it takes the update lock (issue 20 item 3: a scanned PDF's OCR
blocked every delete and upload in the server while it ran), so a delete meanwhile is done at
once. The files' reading is made slow by a loader that waits for the test; the model is the
text-hash embedder (tests/fakes.py): this is about who waits for whom, not about meaning."""
from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from fakes import HashEmbedder
from rag import indexing
from rag.settings import Settings
from ui.service import Service

WAIT = 20  # seconds a step may take before the test calls it a hang


@pytest.fixture
def slow_reads(monkeypatch):
    """Loading a file named slow*.md waits until the test opens the gate; every load is
    recorded by name."""
    gate, entered, loads = threading.Event(), threading.Event(), []
    real = indexing.load

    def load(path, *a):
        loads.append(Path(path).name)
        if Path(path).name.startswith("slow"):
            entered.set()
            assert gate.wait(WAIT * 3), "the test never opened the gate"
        return real(path, *a)

    monkeypatch.setattr(indexing, "load", load)
    monkeypatch.setattr(indexing, "_default_embedder", lambda settings: HashEmbedder())
    yield gate, entered, loads
    gate.set()  # never leave a thread waiting


@pytest.fixture
def service(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "depot.md").write_text("The Brno tram depot keeps 77 trams in its north hall.\n")
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), docs=(str(own),),
                                 upload_dir=str(tmp_path / "uploads"), watch_seconds=0,
                                 merge_background=False)
    svc = Service(settings)
    svc.ensure_index()
    svc.add_files([("archive.md", io.BytesIO(b"The Olomouc archive holds 9,000 plates.\n"))])
    return svc, own


def names(service: Service) -> set[str]:
    return {d.name for d in service.documents() if d.status.value == "indexed"}


def in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def delete_at_once(svc: Service, name: str, while_: str) -> None:
    """Delete the document called ``name``; it must be done within WAIT seconds."""
    doc = next(d for d in svc.documents() if d.name == name)
    delete, deleted = in_thread(svc.delete_document, doc.id)
    delete.join(WAIT)
    assert not delete.is_alive(), f"the delete waited for {while_}"
    assert "error" not in deleted, deleted


def test_a_delete_during_a_slow_upload_is_done_at_once_and_the_upload_still_lands(
        service, slow_reads):
    svc, _ = service
    gate, entered, loads = slow_reads
    assert names(svc) == {"depot.md", "archive.md"}
    upload, result = in_thread(svc.add_files,
                               [("slow-scan.md", io.BytesIO(b"The lift descends 1,000 m.\n"))])
    assert entered.wait(WAIT), "the upload never read its file"
    delete_at_once(svc, "archive.md", "the upload's reading")
    assert names(svc) == {"depot.md"}  # gone at once; the upload not there yet
    gate.set()
    upload.join(WAIT)
    assert not upload.is_alive() and "error" not in result, result
    saved, summary = result["value"]
    assert saved == ["slow-scan.md"] and [Path(p).name for p in summary.added] == ["slow-scan.md"]
    assert summary.embedded > 0
    assert names(svc) == {"depot.md", "slow-scan.md"}
    assert loads.count("slow-scan.md") == 1  # read once, while hidden; not again by the update
    assert not any(p.name.startswith(".incoming-") for p in Path(svc.docs).iterdir())


def test_a_delete_while_a_refresh_reads_a_new_file_of_a_watched_folder_is_done_at_once(
        service, slow_reads):
    svc, own = service
    gate, entered, _ = slow_reads
    (own / "slow-report.md").write_text("The quarry closed in 1962.\n")
    refresh, refreshed = in_thread(svc.refresh)
    assert entered.wait(WAIT), "the refresh never read the new file"
    delete_at_once(svc, "depot.md", "the refresh's reading")
    assert names(svc) == {"archive.md"}
    gate.set()
    refresh.join(WAIT)
    assert not refresh.is_alive() and "error" not in refreshed, refreshed
    assert names(svc) == {"archive.md", "slow-report.md"}  # the excluded depot stays out


def test_an_uploads_progress_runs_from_reading_to_done_and_never_goes_back(service, slow_reads):
    svc, _ = service
    slow_reads[0].set()
    seen: list[tuple[float, str]] = []
    svc.add_files([("bridge.md", io.BytesIO(b"The bridge has 16 arches.\n" * 40))],
                  on_progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0, seen
    said = " | ".join(m for _, m in seen)
    assert said.startswith("reading files") and "chunks" in said and said.endswith("done"), said
    assert "embedding 0 chunks" not in said, said  # the update after the preparation
