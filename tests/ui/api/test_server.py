"""The API as ui/server.py serves it, beside the page, on the shared `docchat serve` process:
the page's Gradio endpoint (gradio_client, and plain calls with too few inputs), the loopback
bind and no outbound connection, a port in use, and the login in front of the routers
(ui/api/__init__.py, ui/api_auth.py)."""
from __future__ import annotations

import shutil

import httpx
import psutil
import pytest
from server import ROOT, running_server

from .helpers import ask, assert_cited

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

def test_gradio_client_calls_the_ask_endpoint(base):
    # download_files=False: gradio_client 2.x otherwise treats every {"path": ...} dict in a
    # result (our sources) as a file to download from the server (see docs/ui.md)
    from gradio_client import Client

    result = Client(base, verbose=False, download_files=False).predict(
        question="How many people died in the attack?", api_name="/ask")
    assert not result["abstained"] and "133" in result["answer"]
    assert_cited(result)


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


@pytest.mark.parametrize("data, says", [
    (["How?", "abc"], "history: Input should be a valid list"),
    (["How?", [["just one"]]], "history.0.1: Field required"),
    (["How?", [[1, 2]]], "history.0.0: Input should be a valid string"),
    (["How?", [None]], "history.0: Input should be a valid tuple"),
    (["   "], "question: String should match pattern"),
    ([5], "question: Input should be a valid string"),
    (["How?", [], 99], "k: Input should be less than or equal to 50"),
    (["How?", [], "3"], "k: Input should be a whole number"),
    (["How?", [], 0, "gpt-17"], "engine: Input should be 'extractive', 'openai' or"),
])
def test_gradio_ask_with_a_value_it_cannot_take_is_a_422_with_the_reason(server, data, says):
    """Each was Gradio's 500 from the handler ("not enough values to unpack")."""
    for route in ("/gradio_api/run/ask", "/gradio_api/call/ask"):
        r = httpx.post(server[0] + route, json={"data": data}, timeout=60)
        assert r.status_code == 422 and r.json()["detail"].startswith(says), (route, r.text)


def test_server_binds_to_loopback_and_makes_no_outbound_connection(server):
    base, proc, _ = server
    ask(base, "How many people died in the attack?")
    conns = psutil.Process(proc.pid).net_connections(kind="inet")
    listening = [c for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)
    outbound = [c for c in conns if c.raddr and c.raddr.ip not in ("127.0.0.1", "::1")]
    assert outbound == []


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


def test_without_login_a_garbled_authorization_header_is_ignored(server):
    base = server[0]
    for header in ("Basic !!!not-base64", "Basic dXNlcg==", "Bearer abc"):
        r = httpx.get(f"{base}/api/status", headers={"Authorization": header})
        assert r.status_code == 200, header
        assert r.json()["exists"]


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
