"""Files put into the documents folder while the server was down are indexed when it starts,
without waiting for another file to arrive."""
from __future__ import annotations

import time

import httpx
import pytest
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_files_added_while_the_server_was_down_are_indexed_at_start(tmp_path):
    with running_server(tmp_path):
        pass  # first start: index built from seeds/, uploads folder created
    (tmp_path / "uploads").mkdir(exist_ok=True)
    (tmp_path / "uploads" / "harbour-log.md").write_text(
        "# Harbour log\n\nThe ferry Skarv was delayed 47 minutes by fog on 3 May.\n")
    with running_server(tmp_path) as (base, _):
        deadline = time.monotonic() + 120
        names: set[str] = set()
        while time.monotonic() < deadline:
            names = {d["name"] for d in httpx.get(f"{base}/api/documents").json()
                     if d["status"] == "indexed"}
            if "harbour-log.md" in names:
                break
            time.sleep(1)
        assert "harbour-log.md" in names
        r = httpx.post(f"{base}/api/ask", json={"question": "How long was the ferry delayed?"},
                       timeout=120)
        assert r.status_code == 200 and "47 minutes" in r.json()["answer"], r.text
