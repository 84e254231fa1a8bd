"""The command line as a user types it (one process per command, the real model)."""
from __future__ import annotations

import pytest
from conftest import clean_env, docchat

pytestmark = pytest.mark.slow


def test_output_cut_short_by_its_reader_is_not_an_error(tmp_path):
    """`docchat status | head -1`: the reader closes the pipe early; no traceback."""
    import subprocess
    import sys

    env = clean_env()
    assert docchat("index", "--index", tmp_path / "idx", "seeds", env=env).returncode == 0
    shell = (f"{sys.executable} -m rag summarise --index {tmp_path / 'idx'} "
             "seeds/crocus-city-hall-attack.txt | head -c 10")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                       text=True, env=env, timeout=300)
    assert len(r.stdout) == 10 and "Traceback" not in r.stderr and "Broken pipe" not in r.stderr
    assert r.returncode == 0, r.stderr


def test_a_read_only_index_is_one_line_and_keeps_answering(tmp_path, immutable):
    """Issue 20 item 12: an index whose folder and files cannot be written (a read-only
    mount, a backup restored read-only) printed SQLite's traceback. Now one line, exit 1, and
    the index as it was: still listed and still answering."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "depot.md").write_text("The Brno tram depot keeps 77 trams in its north hall.\n")
    env = clean_env()
    idx = tmp_path / "idx"
    assert docchat("index", "--index", idx, docs, env=env).returncode == 0
    (docs / "archive.md").write_text("The Olomouc archive holds 9,000 glass plates.\n")
    immutable(*sorted(idx.rglob("*")), idx)
    r = docchat("index", "--index", idx, docs, env=env)
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "read-only" in r.stderr or "not permitted" in r.stderr, r.stderr
    assert "keeps its last complete state" in r.stderr
    status = docchat("status", "--index", idx, env=env)
    assert status.returncode == 0 and "files:   1" in status.stdout, status.stdout
    a = docchat("ask", "--index", idx, "How many trams does the Brno depot keep?", env=env)
    assert a.returncode == 0 and "77" in a.stdout, a.stdout + a.stderr


def test_an_unreadable_input_of_a_command_that_writes_no_index_says_nothing_of_the_index(
        tmp_path, capsys):
    """'docchat eval qa --squad MISSING' ended with '(nothing was changed: the index keeps its
    last complete state)', as if an index update had been tried; that note is for the
    commands that write the index (tested above with a read-only index)."""
    from rag.cli import main

    missing = tmp_path / "dev-v2.0.json"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for argv in (["eval", "qa", "--squad", str(missing)],
                 ["feedback", "export", "--data", str(tmp_path / "data"),
                  "--out", str(blocker / "out.jsonl")]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert err.startswith("docchat: error:") and "index" not in err, err
