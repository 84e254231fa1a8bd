"""The library's per-document actions through a real `docchat serve` process: re-index one
document, and include again a document the user excluded. The folder watcher is off
(DOCCHAT_WATCH_SECONDS=0) so that only the calls under test change the index."""
from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

OLD_MTIME_NS = 1_600_000_000 * 10**9  # Sept 2020: far from "now" (a racy mtime is re-read)
DEPOT_OLD = "The Brno tram depot keeps 77 trams in its north hall."
DEPOT_NEW = "The Brno tram depot keeps 93 trams in its south hall."  # same length
ARCHIVE = "The Olomouc archive holds 9,000 glass photographic plates from 1890."
LIFT = "The Ostrava mine lift descends 1,000 metres."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("library")
    own = work / "own"
    own.mkdir()
    for name, text in (("depot.md", DEPOT_OLD), ("archive.md", ARCHIVE), ("brief.md", LIFT)):
        (own / name).write_text(text + "\n")
        os.utime(own / name, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    env = {"DOCCHAT_DOCS": str(own), "DOCCHAT_WATCH_SECONDS": "0"}
    with running_server(work, env=env) as (base, _):
        yield base, own, work


def documents(base: str) -> dict[str, dict]:
    r = httpx.get(f"{base}/api/documents")
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()}


def cited_paths(base: str, question: str) -> tuple[str, set[str]]:
    r = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=120)
    assert r.status_code == 200, r.text
    a = r.json()
    cited = {n for s in a["sentences"] for n in s["citations"]}
    return a["answer"], {Path(s["path"]).name for s in a["sources"] if s["n"] in cited}


def test_reindex_reads_one_document_again_and_reembeds_only_a_changed_content(server):
    base, own, _ = server
    depot = documents(base)["depot.md"]
    assert depot["status"] == "indexed"
    # unchanged: read again, nothing embedded
    r = httpx.post(f"{base}/api/documents/{depot['id']}/reindex", timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reembedded"] is False and body["summary"]["embedded"] == 0
    assert body["document"]["status"] == "indexed" and body["document"]["id"] == depot["id"]
    # changed behind the size/mtime check (same size, mtime put back): only a re-index that
    # really reads the file sees it
    (own / "depot.md").write_text(DEPOT_NEW + "\n")
    os.utime(own / "depot.md", ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    answer, _ = cited_paths(base, "How many trams does the Brno tram depot keep?")
    assert "77" in answer  # the index still has the old text
    r = httpx.post(f"{base}/api/documents/{depot['id']}/reindex", timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reembedded"] is True and body["summary"]["embedded"] >= 1
    assert body["summary"]["updated"] == [str(own / "depot.md")]
    assert str(own / "archive.md") in body["summary"]["unchanged"]  # only that one changed
    answer, cited = cited_paths(base, "How many trams does the Brno tram depot keep?")
    assert "93" in answer and "77" not in answer and cited == {"depot.md"}


def test_reindex_and_include_of_an_unknown_document_are_404(server):
    base = server[0]
    for action in ("reindex", "include"):
        r = httpx.post(f"{base}/api/documents/0123456789abcdef/{action}")
        assert r.status_code == 404 and "no document" in r.json()["detail"]


def test_excluded_document_is_listed_and_including_it_again_indexes_it_at_once(server):
    base, own, work = server
    archive = documents(base)["archive.md"]
    r = httpx.delete(f"{base}/api/documents/{archive['id']}", timeout=120)
    assert r.status_code == 200 and r.json()["action"] == "excluded"
    listed = documents(base)["archive.md"]
    assert listed["status"] == "excluded" and listed["id"] == archive["id"]
    assert listed["chunks"] == 0 and "by you" in listed["reason"]
    assert listed["size"] == (own / "archive.md").stat().st_size
    _, cited = cited_paths(base, "How many glass plates does the Olomouc archive hold?")
    assert "archive.md" not in cited
    # an excluded document cannot be re-indexed (it is out of the index), only included
    r = httpx.post(f"{base}/api/documents/{archive['id']}/reindex")
    assert r.status_code == 404 and "include it again" in r.json()["detail"]

    r = httpx.post(f"{base}/api/documents/{archive['id']}/include", timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["document"]["status"] == "indexed" and body["document"]["chunks"] >= 1
    assert str(own / "archive.md") in body["summary"]["added"]
    assert documents(base)["archive.md"]["status"] == "indexed"
    assert str(own / "archive.md") not in (work / "index" / "excluded.txt").read_text()
    answer, cited = cited_paths(base, "How many glass plates does the Olomouc archive hold?")
    assert "9,000" in answer and cited == {"archive.md"}
    # including a document that is not excluded is refused and changes nothing
    r = httpx.post(f"{base}/api/documents/{archive['id']}/include")
    assert r.status_code == 404 and "not excluded" in r.json()["detail"]


def test_schema_documents_the_new_routes(server):
    schema = httpx.get(f"{server[0]}/openapi.json").json()
    for action in ("reindex", "include"):
        route = schema["paths"][f"/api/documents/{{doc_id}}/{action}"]["post"]
        assert set(route["responses"]) >= {"200", "404"}
    status = schema["components"]["schemas"]["DocumentOut"]["properties"]["status"]
    assert "excluded" in status["enum"]


def test_an_excluded_file_gone_from_disk_says_so(server):
    base, own, _ = server
    brief = documents(base)["brief.md"]
    assert brief["status"] == "indexed"
    assert httpx.delete(f"{base}/api/documents/{brief['id']}", timeout=120).status_code == 200
    (own / "brief.md").unlink()
    gone = documents(base)["brief.md"]
    assert gone["status"] == "excluded" and "no longer on disk" in gone["reason"]


def test_a_refresh_keeps_a_folder_another_process_adds_while_it_starts(tmp_path, monkeypatch):
    """The page's refresh (and the folder watcher) must not undo `docchat index --add`
    committed by another process just before the refresh takes the writer lock: the folders
    are read under that lock, not before it."""
    from rag.index import Index
    from rag.settings import Settings
    from ui.service import Service

    mine, added = tmp_path / "mine", tmp_path / "added"
    for folder, text in ((mine, "The Pellworm tide gauge reads 4.2 metres."),
                         (added, "The Brno tram depot keeps 77 trams.")):
        folder.mkdir()
        (folder / f"{folder.name}.md").write_text(text + "\n")
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), docs=(str(mine),),
                                 upload_dir=str(tmp_path / "uploads"), watch_seconds=0)
    service = Service(settings)
    service.ensure_index()
    (tmp_path / "uploads").mkdir()
    real, raced = Index.update, []

    def other_process_adds_first(self, paths=None, **options):
        if not raced:  # another handle on the same index commits `index --add` right now
            raced.append(real(Index(settings.index_dir, settings), [added], add=True))
        return real(self, paths, **options)

    monkeypatch.setattr(Index, "update", other_process_adds_first)
    service.refresh()
    assert raced and str(added / "added.md") in raced[0].added
    paths = {d.path: d.status for d in service.documents()}
    assert paths == {str(mine / "mine.md"): "indexed", str(added / "added.md"): "indexed"}


@pytest.mark.parametrize("where", ["uploads", "own folder"])
def test_a_delete_whose_update_fails_changes_nothing(tmp_path, monkeypatch, where):
    """Issue 20, item 2: a failed delete recorded the exclusion (or removed the upload) while
    the document kept being answered. Now the file is put back or the exclusion undone."""
    from rag.index import Index
    from rag.settings import Settings
    from ui.service import Service

    mine, uploads = tmp_path / "mine", tmp_path / "uploads"
    for folder in (mine, uploads):
        folder.mkdir()
    target = (uploads if where == "uploads" else mine) / "lift.md"
    target.write_text(LIFT + "\n")
    (mine / "archive.md").write_text(ARCHIVE + "\n")
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), docs=(str(mine),),
                                 upload_dir=str(uploads), watch_seconds=0)
    service = Service(settings)
    service.ensure_index()
    service.refresh()
    doc = next(d for d in service.documents() if d.name == "lift.md")

    def disk_full(self, paths=None, **options):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Index, "update", disk_full)
    with pytest.raises(OSError, match="No space"):
        service.delete_document(doc.id)
    monkeypatch.undo()
    assert target.read_text() == LIFT + "\n" and sorted(os.listdir(uploads)) == (
        ["lift.md"] if where == "uploads" else [])
    assert {d.name: d.status for d in service.documents()} == {
        "lift.md": "indexed", "archive.md": "indexed"}
    s = service.refresh()  # and the next update still keeps it: no exclusion was left behind
    assert s.removed == () and service.document(doc.id).status == "indexed"
