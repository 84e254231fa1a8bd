"""``python -m rag`` (rag/__main__.py): the command line as a module, the same ``main`` as the
``docchat`` script, its exit code handed to the shell unchanged (0, 1 error, 2 bad usage,
3 files skipped). In fresh processes (conftest.docchat), and in process through runpy for the
codes; nothing here loads the model (no command that would embed anything is run)."""
from __future__ import annotations

import os
import runpy
import sys

import pytest
from conftest import ROOT, clean_env, docchat

COMMANDS = ("index", "status", "ask", "summarise", "eval", "serve", "mcp", "export", "import",
            "conversations", "feedback")


def test_help_lists_every_command_and_the_exit_codes():
    r = docchat("--help", timeout=120)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.startswith("usage: docchat ")
    for command in COMMANDS:
        assert command in r.stdout.split("positional arguments:")[1], command
    assert "Exit codes: 0 success; 1 error (one line on stderr); 2 bad usage;" in r.stdout


def test_a_command_s_help_works_too():
    r = docchat("ask", "--help", timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("usage: docchat ask ")
    assert "--doc PATH" in r.stdout


def test_no_command_is_bad_usage_exit_2():
    r = docchat(timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines()[-1] == ("docchat: error: the following arguments are "
                                         "required: command")


def test_error_and_skipped_exit_codes_reach_the_shell(tmp_path):
    """1: no index (one line); 3: the index was updated but a file was skipped (only an
    unsupported file here, so nothing is embedded and the model is never loaded)."""
    r = docchat("ask", "Why?", "--index", tmp_path / "none", timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == (f"docchat: error: no index at {tmp_path / 'none'}: build one "
                                "with 'docchat index'")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.xyz").write_bytes(b"??")
    r = docchat("index", docs, "--index", tmp_path / "index", timeout=120)
    assert r.returncode == 3, r.stderr
    assert f"skipped {docs / 'notes.xyz'}: unsupported file type '.xyz'" in r.stdout


def test_a_bad_setting_from_the_environment_exits_2_in_one_line(tmp_path):
    r = docchat("status", "--index", tmp_path, env=clean_env(DOCCHAT_TOP_K="0"), timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("docchat: bad setting: DOCCHAT_TOP_K=")


def test_it_runs_from_any_folder(tmp_path):
    """The module is found by its package, not by the folder it is started in."""
    env = clean_env(PYTHONPATH=str(ROOT))
    r = docchat("status", "--index", "idx", env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 1
    assert r.stdout == f"no index at {tmp_path / 'idx'}: build one with 'docchat index'\n"


@pytest.mark.parametrize("argv, code", [
    (["status", "--index", "{tmp}/none"], 1),
    (["--help"], 0),
    (["eval", "cases"], 2),
    (["nonsense"], 2),
])
def test_run_as_main_exits_with_mains_code(monkeypatch, tmp_path, capsys, argv, code):
    monkeypatch.setattr(sys, "argv", ["docchat", *(a.format(tmp=tmp_path) for a in argv)])
    for name in [k for k in os.environ if k.startswith("DOCCHAT_")]:
        monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as e:
        runpy.run_module("rag", run_name="__main__")
    assert e.value.code == code
    capsys.readouterr()


def test_importing_the_package_runs_nothing(capsys):
    """Only ``python -m rag`` runs the command line: importing rag (or rag.cli) does not."""
    import rag
    import rag.cli

    assert callable(rag.cli.main) and rag.ask
    assert capsys.readouterr() == ("", "")
