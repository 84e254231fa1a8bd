"""``docchat serve`` and ``docchat mcp`` (rag/cli/serve.py): which settings and login reach the
server (an option wins over DOCCHAT_*, --auth over DOCCHAT_AUTH), a taken port or a bad
setting refused in one line before anything is built, and the stdio MCP server opening an
existing index read only. In process (rag.cli.main) with ui.server.serve and the MCP server's
run replaced where a test needs no real server; the port test binds a real socket."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from conftest import docchat

from rag.cli import main


@pytest.fixture(autouse=True)
def no_docchat_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("DOCCHAT_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def served(monkeypatch) -> list:
    """ui.server.serve replaced: each call's (settings, auth) is recorded."""
    import ui.server

    calls: list = []
    monkeypatch.setattr(ui.server, "serve", lambda settings, auth=None:
                        calls.append((settings, auth)))
    return calls


def run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# -- moved from tests/ui/test_mcp.py ------------------------------------------------------------

def test_stdio_server_needs_an_index(tmp_path):
    r = docchat("mcp", "--index", tmp_path / "none", timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "no index at" in r.stderr
    assert not (tmp_path / "none").exists()  # opened read-only: nothing created


# -- serve -------------------------------------------------------------------------------------

def test_serve_options_win_over_the_environment(tmp_path, monkeypatch, capsys, served):
    monkeypatch.setenv("DOCCHAT_PORT", "9999")
    monkeypatch.setenv("DOCCHAT_HOST", "0.0.0.0")
    monkeypatch.setenv("DOCCHAT_INDEX_DIR", str(tmp_path / "env-index"))
    rc, _, err = run(capsys, "serve", "--port", 8123, "--host", "127.0.0.2", "--index",
                     tmp_path / "i", "--docs", tmp_path / "d")
    assert rc == 0, err
    ((settings, auth),) = served
    assert (settings.port, settings.host) == (8123, "127.0.0.2")
    assert Path(settings.index_dir) == tmp_path / "i"
    assert Path(settings.upload_dir) == tmp_path / "d"
    assert auth is None


def test_serve_takes_the_environment_when_no_option_is_given(tmp_path, monkeypatch, capsys,
                                                             served):
    monkeypatch.setenv("DOCCHAT_PORT", "9999")
    monkeypatch.setenv("DOCCHAT_INDEX_DIR", str(tmp_path / "env-index"))
    assert run(capsys, "serve")[0] == 0
    ((settings, _),) = served
    assert settings.port == 9999 and Path(settings.index_dir) == tmp_path / "env-index"


@pytest.mark.parametrize("env, option, want", [
    ("", None, None),
    ("ann:from-env", None, "ann:from-env"),
    ("ann:from-env", "bob:from-option", "bob:from-option"),
    ("", "bob:from-option", "bob:from-option"),
])
def test_the_login_is_the_option_else_docchat_auth_else_none(monkeypatch, capsys, served,
                                                             env, option, want):
    if env:
        monkeypatch.setenv("DOCCHAT_AUTH", env)
    assert run(capsys, "serve", *(["--auth", option] if option else []))[0] == 0
    assert served[0][1] == want


@pytest.mark.parametrize("args, env, word", [
    (["--store", "nosuch://x"], {}, "store"),
    (["--port", "70000"], {}, "--port 70000: must be"),
    ([], {"DOCCHAT_PORT": "http"}, "DOCCHAT_PORT"),
    # it served, and then every question was a 424 "unknown engine"
    ([], {"DOCCHAT_ENGINE": "gpt-17"}, "DOCCHAT_ENGINE='gpt-17': must be one of extractive"),
])
def test_a_bad_setting_is_refused_in_one_line_before_serving(monkeypatch, capsys, served,
                                                             args, env, word):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rc, out, err = run(capsys, "serve", *args)
    assert rc == 2 and out == "" and not served
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("docchat: bad setting: ") and word in err


def test_a_taken_port_is_one_line_naming_it(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc, out, err = run(capsys, "serve", "--port", port, "--index", tmp_path / "i",
                           "--docs", tmp_path / "d")
    assert rc == 1 and out == ""
    assert err.strip() == (f"docchat: error: port {port} is in use on 127.0.0.1; set "
                           "DOCCHAT_PORT or --port")
    assert not (tmp_path / "i").exists() and not (tmp_path / "d").exists()


def files_of(root: Path) -> list:
    """Each file's path and mtime, SQLite's own -shm/-wal (made by any reader) left out."""
    return sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*")
                  if not p.name.endswith(("-shm", "-wal")))


# -- mcp ---------------------------------------------------------------------------------------

def test_mcp_serves_the_index_over_stdio_without_changing_it(tmp_path, monkeypatch, capsys):
    import ui.mcp_tools
    from fakes import HashEmbedder

    from rag.index import Index
    from rag.settings import Settings

    root = tmp_path / "index"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The moon Pim of Zorblax is bright green.")
    Index(root, Settings(index_dir=str(root)), embedder=HashEmbedder()).update([str(docs)])
    before = files_of(root)
    ran: list = []

    class FakeServer:
        def run(self, transport: str) -> None:
            ran.append(transport)

    def build_server(get_index, settings):
        ran.append((get_index().status().files, Path(settings.index_dir)))
        return FakeServer()

    monkeypatch.setattr(ui.mcp_tools, "build_server", build_server)
    rc, out, err = run(capsys, "mcp", "--index", root)
    assert (rc, out, err) == (0, "", "")
    assert ran == [(1, root), "stdio"]
    assert files_of(root) == before
