"""The HTTP API and the Gradio endpoint of a real `docchat serve` process, called with plain
HTTP (httpx) and the official gradio_client, as a client program would."""
from __future__ import annotations

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from rag.types import CANNOT_ANSWER
from server import ROOT, running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FLOOD = ("# The Kuldiga flood\n\nThe Kuldiga flood of March 2031 killed 12 people and "
         "destroyed the old brick bridge over the Venta river. Rebuilding the bridge took "
         "three years and cost 41 million euros.\n")
MAX_MB = 0.25  # a small upload cap for the server under test


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("api")
    with running_server(work, env={"DOCCHAT_UPLOAD_MAX_MB": str(MAX_MB)}) as (base, proc):
        yield base, proc, work


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[0]


def ask(base: str, question: str, **extra) -> dict:
    r = httpx.post(f"{base}/api/ask", json={"question": question, **extra}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def assert_cited(answer: dict) -> None:
    """Every [n] refers to a listed source, every sentence cites one, numbering is 1..n."""
    numbers = {s["n"] for s in answer["sources"]}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers and markers <= numbers
    assert all(s["citations"] and s["supported"] for s in answer["sentences"])
    assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_status_describes_the_seed_index(base):
    st = httpx.get(f"{base}/api/status").json()
    assert st["exists"] and st["files"] == 1 and st["chunks"] > 0
    assert st["model"] == "all-MiniLM-L6-v2" and st["dim"] == 384 and st["built_at"]


def test_ask_answers_with_a_verified_citation(base):
    a = ask(base, "How many people died in the attack?")
    assert not a["abstained"] and "133" in a["answer"]
    assert_cited(a)
    cited = a["sources"][a["sentences"][0]["citations"][0] - 1]
    assert cited["path"].endswith("crocus-city-hall-attack.txt") and cited["page"] == 1
    assert cited["end"] > cited["start"] and "133" in cited["text"]


def test_off_topic_question_abstains_and_lists_closest_passages(base):
    a = ask(base, "What is the boiling point of water?")
    assert a["abstained"] and a["answer"] == CANNOT_ANSWER and a["sources"]


@pytest.mark.parametrize("body, status, words", [
    # refused by the schema itself (minLength, pattern, maxLength), so by FastAPI: 422
    ({"question": ""}, 422, "at least 1 character"),
    ({"question": " \t\n\x1c "}, 422, "should match pattern"),
    ({"question": "x " * 50_000}, 422, "at most 2000 characters"),
    ({}, 422, "question"),
    ({"question": "How many died?", "engine": "gpt-17"}, 422, "engine"),
    ({"question": "How many died?", "k": 0}, 422, "k"),
    ({"question": "How many died?", "history": "yes"}, 422, "history"),
    # nothing listens on the default OpenAI-compatible URL here: a clear 424, not a hang
    ({"question": "How many people died in the attack?", "engine": "openai"}, 424,
     "cannot reach"),
])
def test_bad_requests_get_a_4xx_with_an_explanation(base, body, status, words):
    r = httpx.post(f"{base}/api/ask", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"]).lower()


def test_malformed_json_is_a_4xx(base):
    r = httpx.post(f"{base}/api/ask", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_openapi_schema_has_typed_answers_and_errors_and_no_login_when_none_is_set(base):
    schema = httpx.get(f"{base}/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/ask", "/api/documents", "/api/documents/{doc_id}",
            "/api/documents/{doc_id}/file", "/api/status"} <= set(paths)
    ask_op = paths["/api/ask"]["post"]["responses"]
    # AskOut: AnswerOut and, for a question asked in a stored conversation, its id and turn
    assert ask_op["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskOut")
    assert {"conversation_id", "turn", "answer", "sources"} <= set(
        schema["components"]["schemas"]["AskOut"]["properties"])
    assert {"400", "409", "422", "424"} <= set(ask_op)
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"]) == (1, 2000)  # as the server checks
    answer = schema["components"]["schemas"]["AnswerOut"]["properties"]
    assert {"answer", "abstained", "sentences", "sources"} <= set(answer)
    assert "securitySchemes" not in schema.get("components", {})
    assert "401" not in ask_op


def upload(base: str, name: str, data: bytes, mime: str = "text/markdown") -> httpx.Response:
    return httpx.post(f"{base}/api/documents", files=[("files", (name, data, mime))],
                      timeout=180)


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


def test_gradio_client_calls_the_ask_endpoint(base):
    # download_files=False: gradio_client 2.x otherwise treats every {"path": ...} dict in a
    # result (our sources) as a file to download from the server (see docs/ui.md)
    from gradio_client import Client

    result = Client(base, verbose=False, download_files=False).predict(
        question="How many people died in the attack?", api_name="/ask")
    assert not result["abstained"] and "133" in result["answer"]
    assert_cited(result)


QUESTIONS = {
    "How many people died in the attack?": "133",
    "Which earlier attacks in Russia are mentioned?": "Beslan",
    "Where were the gunmen trying to flee to?": "Ukraine",
    "Which group were the attackers affiliated with?": "Islamic State",
}


def test_twenty_concurrent_clients_all_get_correct_answers(base):
    from gradio_client import Client

    client = Client(base, verbose=False, download_files=False)
    jobs = [(q, i % 2) for i in range(5) for q in QUESTIONS]  # 20: half HTTP, half gradio

    def run(job):
        q, via_gradio = job
        if via_gradio:
            return q, client.predict(question=q, api_name="/ask")
        return q, ask(base, q)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(run, jobs))
    assert len(results) == 20
    for q, a in results:
        assert QUESTIONS[q] in a["answer"], (q, a["answer"])
        assert_cited(a)


def test_server_binds_to_loopback_and_makes_no_outbound_connection(server):
    base, proc, _ = server
    ask(base, "How many people died in the attack?")
    conns = psutil.Process(proc.pid).net_connections(kind="inet")
    listening = [c for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)
    outbound = [c for c in conns if c.raddr and c.raddr.ip not in ("127.0.0.1", "::1")]
    assert outbound == []


def test_auth_protects_the_page_and_the_api(tmp_path, server):
    shutil.copytree(server[2] / "index", tmp_path / "index")
    creds = ("reader", "s3cret-pass")
    with running_server(tmp_path, "--auth", ":".join(creds), auth=creds) as (base, _):
        assert httpx.get(f"{base}/api/status").status_code == 401
        assert httpx.get(f"{base}/api/status", auth=("reader", "wrong")).status_code == 401
        assert httpx.get(f"{base}/api/status", auth=creds).json()["exists"]
        docs = httpx.get(f"{base}/api/documents", auth=creds).json()
        doc = docs[0]["id"]
        for method, path in [("GET", "/api/documents"), ("DELETE", f"/api/documents/{doc}"),
                             ("GET", f"/api/documents/{doc}/file"),
                             ("GET", f"/api/documents/{doc}/pages/1.png"),
                             ("POST", f"/api/documents/{doc}/reindex"),
                             ("POST", f"/api/documents/{doc}/include"),
                             ("POST", "/api/ask")]:
            assert httpx.request(method, base + path).status_code == 401, path
        assert len(httpx.get(f"{base}/api/documents", auth=creds).json()) == len(docs)
        assert httpx.get(f"{base}/openapi.json").status_code == 401
        schema = httpx.get(f"{base}/openapi.json", auth=creds).json()
        assert "HTTPBasic" in schema["components"]["securitySchemes"]
        # the page's login session opens the API too (its page images and file links)
        with httpx.Client(base_url=base) as browser:
            assert browser.get("/api/documents").status_code == 401
            browser.post("/login", data={"username": "reader", "password": "wrong"})
            assert browser.get("/api/documents").status_code == 401
            browser.post("/login", data={"username": "reader", "password": creds[1]})
            assert browser.get("/api/documents").status_code == 200
        page = httpx.get(f"{base}/config")
        assert page.status_code == 401 or "login" in page.text.lower()


def documents(base: str) -> dict[str, dict]:
    r = httpx.get(f"{base}/api/documents")
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()}


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


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    import socket
    import subprocess
    import sys

    from server import free_port

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "rag", "serve", "--index",
                               str(tmp_path / "index"), "--port", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"port {port} is in use" in done.stderr and "DOCCHAT_PORT or --port" in done.stderr
    assert "chat page at" not in done.stdout
    assert not (tmp_path / "index").exists()  # it failed before building anything


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


def test_without_login_a_garbled_authorization_header_is_ignored(server):
    base = server[0]
    for header in ("Basic !!!not-base64", "Basic dXNlcg==", "Bearer abc"):
        r = httpx.get(f"{base}/api/status", headers={"Authorization": header})
        assert r.status_code == 200, header
        assert r.json()["exists"]


def test_gradio_endpoint_with_too_few_inputs_is_a_client_error(server):
    base = server[0]
    for route in ("/gradio_api/run/ask", "/gradio_api/api/ask", "/gradio_api/call/ask"):
        r = httpx.post(base + route, json={"data": []})
        assert r.status_code == 422 and "question" in r.json()["detail"], (route, r.text)
        assert httpx.post(base + route, content=b"{not json").status_code == 422
    # the optional inputs take their defaults: a question alone is answered
    r = httpx.post(f"{base}/gradio_api/run/ask", json={"data": ["How many people died?"]},
                   timeout=120)
    assert r.status_code == 200, r.text
    assert "133" in r.json()["data"][0]["answer"]


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


def test_a_question_scoped_to_one_document_answers_from_it(server):
    """Issue 21: two reports on one subject; each scope answers from its own report."""
    base = server[0]
    for year, workers in (("2023", "412"), ("2024", "388")):
        r = upload(base, f"mill-{year}.md", (f"# Mill report {year}\n\nIn {year} the Vantor "
                                             f"paper mill employed {workers} workers.\n").encode())
        assert r.status_code == 200, r.text
    docs = {d["name"]: d["id"] for d in httpx.get(f"{base}/api/documents").json()}
    q = "How many workers did the Vantor paper mill employ?"
    for name, number, other in (("mill-2023.md", "412", "388"), ("mill-2024.md", "388", "412")):
        a = ask(base, q, documents=[docs[name]])
        assert not a["abstained"] and number in a["answer"] and other not in a["answer"]
        assert {Path(s["path"]).name for s in a["sources"]} == {name}
        assert [Path(p).name for p in a["scope"]] == [name]
        hits = httpx.post(f"{base}/api/search", json={"query": q, "k": 5,
                                                      "documents": [docs[name]]}).json()
        assert hits and {h["document"] for h in hits} == {docs[name]}
    everything = httpx.post(f"{base}/api/search", json={"query": q, "k": 5}).json()
    assert {h["document"] for h in everything} >= {docs["mill-2023.md"], docs["mill-2024.md"]}
    assert ask(base, q)["scope"] == []


def test_an_unknown_or_empty_scope_is_a_4xx_with_a_reason(base):
    q = {"question": "How many people died in the attack?"}
    r = httpx.post(f"{base}/api/ask", json={**q, "documents": ["0000000000000000"]}, timeout=60)
    assert r.status_code == 404 and "no indexed document" in r.json()["detail"]
    r = httpx.post(f"{base}/api/ask", json={**q, "documents": []}, timeout=60)
    assert r.status_code == 422
    r = httpx.post(f"{base}/api/search", json={"query": "x", "documents": ["/etc/passwd"]})
    assert r.status_code == 404


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
