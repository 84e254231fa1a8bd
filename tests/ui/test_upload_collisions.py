"""Issue 10 item 4 through the real HTTP API: one request with two files that would be saved
under the same name gets a 4xx and changes nothing (the folder, the index)."""
from __future__ import annotations

import httpx
import pytest

from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("collide")
    with running_server(work, env={"DOCCHAT_WATCH_SECONDS": "0"}) as (base, _):
        yield base, work


@pytest.mark.parametrize("first,second", [("same.txt", "same.txt"),
                                          ("dup?name.txt", "dup_name.txt")])
def test_colliding_names_in_one_upload_are_refused_and_change_nothing(server, first, second):
    base, work = server
    before = httpx.get(f"{base}/api/status", timeout=30).json()
    folder = work / "uploads"
    files_before = sorted(p.name for p in folder.rglob("*")) if folder.exists() else []
    r = httpx.post(f"{base}/api/documents", timeout=180, files=[
        ("files", (first, b"The first file says the ferry leaves at nine.", "text/plain")),
        ("files", (second, b"The second file says the ferry leaves at ten.", "text/plain"))])
    assert 400 <= r.status_code < 500, r.text
    assert "would both be saved as" in r.text
    files_after = sorted(p.name for p in folder.rglob("*")) if folder.exists() else []
    assert files_after == files_before
    after = httpx.get(f"{base}/api/status", timeout=30).json()
    assert (after["files"], after["chunks"]) == (before["files"], before["chunks"])
