"""SIGTERM while an upload is being indexed stops the server within seconds, and the index keeps
its last complete state (the seed stays searchable; the next update finishes the job)."""
from __future__ import annotations

import signal
import subprocess
import threading
import time

import httpx
import pytest
from conftest import clean_env, docchat
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
GRACE = 30  # generous: the server's own grace is 3 s; this bounds a hang, it times nothing


def test_sigterm_during_an_upload_stops_the_server_and_keeps_the_index(tmp_path):
    text = "".join(f"Depot {i} in Kuldiga stores {i * 7} crates of river salt for the winter "
                   f"market, said the keeper on day {i}.\n" for i in range(4000))
    with running_server(tmp_path) as (base, proc):
        started = threading.Event()

        def upload() -> None:
            started.set()
            try:
                httpx.post(f"{base}/api/documents", timeout=600,
                           files=[("files", ("depots.txt", text.encode(), "text/plain"))])
            except httpx.HTTPError:
                pass  # the server went away mid-request: expected

        threading.Thread(target=upload, daemon=True).start()
        started.wait()
        time.sleep(4)  # the upload is saved and being embedded (~900 chunks)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"docchat serve still running {GRACE} s after SIGTERM")
    status = docchat("status", "--index", tmp_path / "index", "--json", env=clean_env())
    assert status.returncode == 0, status.stderr
    r = docchat("ask", "How many people died in the attack?", "--index", tmp_path / "index",
                env=clean_env())
    assert r.returncode == 0 and "133" in r.stdout, r.stdout + r.stderr
