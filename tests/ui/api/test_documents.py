"""/api/documents and /api/status (ui/api/documents.py) on the shared `docchat serve`
process (tests/ui/api/conftest.py): upload, list, delete, the original file, a PDF page as an
image, a cited summary, and the documents folder the server watches. The tests run in order
on one index: the first ones count its files from the seed on."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from .helpers import MAX_MB, ask, assert_cited, documents, upload

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

def test_status_describes_the_seed_index(base):
    st = httpx.get(f"{base}/api/status").json()
    assert st["exists"] and st["files"] == 1 and st["chunks"] > 0
    assert st["model"] == "all-MiniLM-L6-v2" and st["dim"] == 384 and st["built_at"]


def test_status_says_when_the_models_are_loaded(base):
    """The server loads the models in the background at start; a client (and bench_page.py)
    can wait for `ready` instead of guessing."""
    deadline = time.monotonic() + 120
    while not (st := httpx.get(f"{base}/api/status").json())["ready"]:
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    r = httpx.post(f"{base}/api/ask", json={"question": "How many people died?"}, timeout=60)
    assert r.status_code == 200 and "133" in r.json()["answer"]


FLOOD = ("# The Kuldiga flood\n\nThe Kuldiga flood of March 2031 killed 12 people and "
         "destroyed the old brick bridge over the Venta river. Rebuilding the bridge took "
         "three years and cost 41 million euros.\n")


def test_uploaded_document_is_answerable_at_once_and_follow_ups_use_history(server):
    base, _, work = server
    r = upload(base, "kuldiga-flood.md", FLOOD.encode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["saved"] == ["kuldiga-flood.md"] and body["status"]["files"] == 2
    assert [Path(p).name for p in body["summary"]["added"]] == ["kuldiga-flood.md"]
    a = ask(base, "How much did rebuilding the bridge over the Venta cost?")
    assert "41 million" in a["answer"]
    assert_cited(a)
    assert a["sources"][a["sentences"][0]["citations"][0] - 1]["path"].endswith(
        "kuldiga-flood.md")
    # the same follow-up question, two conversations: history decides what "it" is
    flood = ask(base, "How many people did it kill?",
                history=[["Tell me about the Kuldiga flood.", "It was in March 2031."]])
    attack = ask(base, "How many people did it kill?",
                 history=[["Tell me about the Crocus City Hall attack.", "It was in Moscow."]])
    assert "12 people" in flood["answer"] and "133" not in flood["answer"]
    assert "133" in attack["answer"]


def test_file_dropped_into_the_folder_is_indexed_by_itself(server):
    base, _, work = server
    (work / "uploads").mkdir(exist_ok=True)
    (work / "uploads" / "orchard.txt").write_text(
        "The Brindle orchard grows 340 quince trees on the south slope.")
    question = "How many quince trees grow in the Brindle orchard?"
    deadline = time.monotonic() + 60  # the server looks every 5 s (DOCCHAT_WATCH_SECONDS)
    while not (a := ask(base, question))["sources"][0]["path"].endswith("orchard.txt"):
        assert time.monotonic() < deadline, "the new file was not indexed within 60 s"
        time.sleep(1)
    assert "340" in a["answer"] and not a["abstained"]


def test_upload_names_are_sanitised_and_stay_in_the_documents_folder(server):
    base, _, work = server
    r = upload(base, "../../escape attempt.md", b"Harmless notes about gardening tools.")
    assert r.status_code == 200, r.text
    assert r.json()["saved"] == ["escape attempt.md"]
    assert (work / "uploads" / "escape attempt.md").is_file()
    assert not (work.parent / "escape attempt.md").exists()


@pytest.mark.parametrize("name, data, status, words", [
    ("tool.exe", b"MZ\x90\x00", 415, "unsupported"),
    ("big.txt", b"word " * int(MAX_MB * 2**20 / 4), 413, "limit"),
    ("empty.md", b"", 400, "empty"),
])
def test_refused_uploads_explain_why_and_change_nothing(server, name, data, status, words):
    base, _, work = server
    before = httpx.get(f"{base}/api/status").json()
    r = upload(base, name, data, "application/octet-stream")
    assert r.status_code == status, r.text
    assert words in r.json()["detail"].lower()
    assert not (work / "uploads" / name).exists()
    assert httpx.get(f"{base}/api/status").json()["files"] == before["files"]


def test_corrupt_upload_is_skipped_with_its_reason_and_listed_in_status(server):
    base, _, work = server
    r = upload(base, "broken.pdf", b"%PDF-1.7\n this is not a real PDF", "application/pdf")
    assert r.status_code == 200, r.text
    skipped = {Path(s["path"]).name: s["reason"] for s in r.json()["summary"]["skipped"]}
    assert "broken.pdf" in skipped and skipped["broken.pdf"]
    assert [Path(s["path"]).name for s in r.json()["not_indexed"]] == ["broken.pdf"]
    status = httpx.get(f"{base}/api/status").json()
    assert "broken.pdf" in {Path(s["path"]).name for s in status["skipped"]}
    assert ask(base, "How many people died in the attack?")["answer"]  # still serving


def test_library_lists_documents_and_deleting_an_upload_removes_it_at_once(server):
    base, _, work = server
    assert upload(base, "tide-log.md", b"# Tides\n\nThe spring tide at Pellworm reached "
                  b"4.2 metres on 3 May.\n").status_code == 200
    assert upload(base, "torn.pdf", b"%PDF-1.7 torn", "application/pdf").status_code == 200
    docs = documents(base)
    tide, torn, seed = docs["tide-log.md"], docs["torn.pdf"], docs["crocus-city-hall-attack.txt"]
    assert tide["status"] == "indexed" and tide["type"] == "md" and tide["pages"] == 1
    assert tide["chunks"] >= 1 and tide["size"] == (work / "uploads" / "tide-log.md").stat().st_size
    assert tide["indexed_at"].startswith("20") and tide["reason"] == ""
    assert torn["status"] == "skipped" and torn["reason"] and torn["chunks"] == 0
    assert seed["status"] == "indexed" and seed["path"].endswith("seeds/crocus-city-hall-attack.txt")
    assert len({d["id"] for d in docs.values()}) == len(docs)
    # the original file of an indexed document, not of a skipped one
    r = httpx.get(f"{base}/api/documents/{tide['id']}/file")
    assert r.status_code == 200 and b"Pellworm" in r.content
    head = httpx.head(f"{base}/api/documents/{tide['id']}/file")  # as GET, without the body
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(r.content)
    assert httpx.get(f"{base}/api/documents/{torn['id']}/file").status_code == 404
    assert "4.2 metres" in ask(base, "How high was the spring tide at Pellworm?")["answer"]
    for doc in (tide, torn):
        r = httpx.delete(f"{base}/api/documents/{doc['id']}", timeout=120)
        assert r.status_code == 200, r.text
        assert r.json()["action"] == "deleted" and r.json()["deleted"]["name"] == doc["name"]
        assert not (work / "uploads" / doc["name"]).exists()
    assert {"tide-log.md", "torn.pdf"}.isdisjoint(documents(base))
    a = ask(base, "How high was the spring tide at Pellworm?")
    assert all(not s["path"].endswith("tide-log.md") for s in a["sources"])
    r = httpx.delete(f"{base}/api/documents/{tide['id']}")
    assert r.status_code == 404 and "no document" in r.json()["detail"]


def test_deleting_a_document_in_a_users_own_folder_excludes_it_and_survives_refreshes(server):
    base, _, work = server
    own = work / "own-folder"
    own.mkdir()
    (own / "keep.md").write_text("The Ostrava archive holds 9,000 glass plates.")
    (own / "drop.md").write_text("The Ostrava tram depot has 77 trams.")
    from conftest import clean_env, docchat

    done = docchat("index", "--index", work / "index", "--add", own, env=clean_env())
    assert done.returncode in (0, 3), done.stderr  # 3: an earlier test's corrupt upload
    docs = documents(base)
    assert docs["drop.md"]["status"] == "indexed"
    r = httpx.delete(f"{base}/api/documents/{docs['drop.md']['id']}", timeout=120)
    assert r.status_code == 200 and r.json()["action"] == "excluded"
    assert (own / "drop.md").is_file()  # the user's own file stays where it is
    assert documents(base)["drop.md"]["status"] == "excluded"  # listed, to include again
    assert documents(base)["keep.md"]["status"] == "indexed"
    # later updates (an upload, the folder watcher, a CLI refresh) keep it out
    (own / "drop.md").write_text("The Ostrava tram depot has 78 trams now.")
    upload(base, "later.md", b"A later upload about hedgehogs.")
    done = docchat("index", "--index", work / "index", env=clean_env())
    assert done.returncode in (0, 3), done.stderr
    time.sleep(6)  # one watcher round (DOCCHAT_WATCH_SECONDS=5)
    assert documents(base)["drop.md"]["status"] == "excluded"
    assert documents(base)["keep.md"]["status"] == "indexed"
    a = ask(base, "How many trams does the Ostrava tram depot have?")
    assert all(not s["path"].endswith("drop.md") for s in a["sources"])


def test_pdf_page_image_and_original_file_for_indexed_pdfs_only(server):
    from conftest import make_pdf

    base, _, work = server
    data = make_pdf(["The Vistula barge carried 18 crates of amber.",
                     "The Oder ferry crossed the river 64 times in June."])
    assert upload(base, "rivers.pdf", data, "application/pdf").status_code == 200
    doc = documents(base)["rivers.pdf"]
    assert doc["status"] == "indexed" and doc["pages"] == 2
    r = httpx.get(f"{base}/api/documents/{doc['id']}/file")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/pdf"
    plain = httpx.get(f"{base}/api/documents/{doc['id']}/pages/2.png", timeout=60)
    assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
    assert plain.content.startswith(b"\x89PNG")
    from io import BytesIO

    from PIL import Image

    page = Image.open(BytesIO(plain.content)).convert("RGB")
    assert page.width > 300 and page.height > 400
    a = ask(base, "How many times did the Oder ferry cross the river in June?")
    src = a["sources"][a["sentences"][0]["citations"][0] - 1]
    assert src["path"].endswith("rivers.pdf") and src["page"] == 2
    (lo, hi), = src["highlights"]
    marked = Image.open(BytesIO(httpx.get(
        f"{base}/api/documents/{doc['id']}/pages/2.png?start={lo}&end={hi}", timeout=60).content
    )).convert("RGB")
    def yellow(img) -> int:  # pixels of the translucent yellow mark
        px = np.asarray(img).astype(int)
        return int(((px[..., 0] > 200) & (px[..., 1] > 180) & (px[..., 2] < 170)).sum())
    assert yellow(marked) > 500 and yellow(page) == 0
    assert httpx.get(f"{base}/api/documents/{doc['id']}/pages/3.png").status_code == 404
    seed = documents(base)["crocus-city-hall-attack.txt"]["id"]
    assert httpx.get(f"{base}/api/documents/{seed}/pages/1.png").status_code == 404
    assert httpx.get(f"{base}/api/documents/nope/file").status_code == 404


def test_an_uploaded_html_file_is_served_as_plain_text_never_as_a_page(server):
    """Stored XSS (issue 20 item 4): a document's script must not run in the app's origin."""
    base, _, _ = server
    page = b"<html><body><p>The heron count was 41.</p><script>alert(document.cookie)</script>"
    assert upload(base, "evil.html", page, "text/html").status_code == 200
    doc = documents(base)["evil.html"]
    r = httpx.get(f"{base}/api/documents/{doc['id']}/file")
    assert r.status_code == 200 and r.content == page
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert httpx.get(f"{base}/api/status").headers["x-content-type-options"] == "nosniff"
    assert httpx.delete(f"{base}/api/documents/{doc['id']}", timeout=120).status_code == 200


def test_a_document_summary_is_cited_and_an_unknown_one_is_404(server):
    base = server[0]
    docs = {d["name"]: d for d in httpx.get(f"{base}/api/documents").json()}
    seed = docs["crocus-city-hall-attack.txt"]
    r = httpx.post(f"{base}/api/documents/{seed['id']}/summary", params={"sentences": 3},
                   timeout=120)
    assert r.status_code == 200, r.text
    s = r.json()
    assert len(s["sentences"]) == 3 and all(x["citations"] for x in s["sentences"])
    for x in s["sentences"]:
        src = s["sources"][x["citations"][0] - 1]
        assert x["text"] in src["text"] and src["path"] == seed["path"]
    assert httpx.post(f"{base}/api/documents/0000000000000000/summary").status_code == 404
    assert httpx.post(f"{base}/api/documents/{seed['id']}/summary",
                      params={"sentences": 99}).status_code == 422
