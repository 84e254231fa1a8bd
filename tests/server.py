"""Start a real `docchat serve` process for the API and browser tests."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(workdir: Path, *extra: str, env: dict[str, str] | None = None,
                   auth: tuple[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``docchat serve`` on a free port with its own index and documents folder (built from
    seeds/ on first start). Yields (base URL, process); stops it afterwards."""
    port = free_port()
    log = open(workdir / f"serve-{port}.log", "w")
    cmd = [sys.executable, "-m", "rag", "serve", "--index", str(workdir / "index"),
           "--docs", str(workdir / "uploads"), "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"docchat serve exited with {proc.returncode}:\n"
                                   f"{(workdir / f'serve-{port}.log').read_text()}")
            try:
                if httpx.get(f"{base}/api/status", auth=auth, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docchat serve not ready after {START_TIMEOUT:g}s")
            time.sleep(0.5)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
