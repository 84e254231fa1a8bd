"""The commands of rag/cli/index_ask.py: docchat index, status, ask and summarise.

In process (rag.cli.main), on real files, a real index and the real question path, with the
text-hash embedder of tests/fakes.py in place of the model (rag.embedding.local.embedder_for
replaced) and the trained checkers off (their thresholds 0, as a remote-embedding setup runs):
what each command prints, its --json, its exit code (0, 1 error, 2 bad usage, 3 files skipped)
and each bad argument in one line. At the end, as a user types them with the real model
(slow): ask --doc and summarise, moved unchanged from tests/test_cli.py.
"""
from __future__ import annotations

import json
import os

import pytest
from conftest import clean_env, docchat
from fakes import HashEmbedder

from cli.test_transfer import one_line, run

PIM = "The moon Pim of Zorblax is bright green. It orbits the planet twice a day."
DEPOT = "The Brno tram depot keeps 77 trams in its north hall."


@pytest.fixture
def fake_model(monkeypatch):
    """No DOCCHAT_* of the caller, the hash embedder, the trained checkers off."""
    import rag.embedding.local as local

    for name in [k for k in os.environ if k.startswith("DOCCHAT_")]:
        monkeypatch.delenv(name)
    for name in ("CHECKER", "READER", "ENTAILMENT"):
        monkeypatch.setenv(f"DOCCHAT_{name}_THRESHOLD", "0")
    monkeypatch.setattr(local, "embedder_for", lambda settings: HashEmbedder())


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pim.txt").write_text(PIM, encoding="utf-8")
    (folder / "depot.md").write_text(f"# Depot\n\n{DEPOT}\n", encoding="utf-8")
    return folder


@pytest.fixture
def index(fake_model, docs, tmp_path, capsys):
    """An index of ``docs`` built by 'docchat index'."""
    root = tmp_path / "index"
    assert run(capsys, "index", docs, "--index", root)[0] == 0
    return root


# -- index ---------------------------------------------------------------------------------

def test_index_says_what_it_did_and_a_second_run_embeds_nothing(fake_model, docs, tmp_path,
                                                                capsys):
    root = tmp_path / "index"
    rc, out, err = run(capsys, "index", docs, "--index", root)
    assert (rc, err) == (0, "")
    first = out.splitlines()
    assert len(first) == 1 and first[0].startswith(
        "2 added, 0 updated, 0 removed, 0 unchanged, 0 skipped; 2 chunks (2 embedded) in ")
    rc, out, _ = run(capsys, "index", docs, "--index", root)
    assert rc == 0 and out.startswith(
        "0 added, 0 updated, 0 removed, 2 unchanged, 0 skipped; 2 chunks (0 embedded) in ")
    rc, out, _ = run(capsys, "index", "--index", root)  # no paths: the folders indexed before
    assert rc == 0 and "2 unchanged" in out
    rc, out, _ = run(capsys, "index", docs, "--index", root, "--full")
    assert rc == 0 and "(2 embedded)" in out and out.splitlines()[1] == "full rebuild: --full"


def test_index_json_lists_the_files(fake_model, docs, tmp_path, capsys):
    rc, out, _ = run(capsys, "index", docs, "--index", tmp_path / "index", "--json")
    got = json.loads(out)
    assert rc == 0 and sorted(got["added"]) == [str(docs / "depot.md"), str(docs / "pim.txt")]
    assert (got["chunks"], got["embedded"], got["skipped"]) == (2, 2, [])


def test_skipped_files_are_listed_with_their_reasons_and_exit_3(fake_model, docs, tmp_path,
                                                                capsys):
    (docs / "broken.pdf").write_bytes(b"not a pdf")
    (docs / "notes.xyz").write_bytes(b"??")
    root = tmp_path / "index"
    rc, out, _ = run(capsys, "index", docs, "--index", root)
    assert rc == 3
    skipped = sorted(line for line in out.splitlines() if line.startswith("skipped "))
    assert len(skipped) == 2
    assert skipped[0].startswith(f"skipped {docs / 'broken.pdf'}: ")
    assert skipped[1] == f"skipped {docs / 'notes.xyz'}: unsupported file type '.xyz'"
    rc, out, _ = run(capsys, "index", docs, "--index", root, "--json")
    assert rc == 3 and {s["path"] for s in json.loads(out)["skipped"]} == {
        str(docs / "broken.pdf"), str(docs / "notes.xyz")}
    rc, out, _ = run(capsys, "status", "--index", root)  # status lists them, and is fine
    assert rc == 0 and f"skipped: {docs / 'notes.xyz'}: unsupported file type '.xyz'" in out


def test_add_joins_the_indexed_folders_and_without_it_they_are_replaced(fake_model, docs,
                                                                       tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "mill.txt").write_text("In 2024 the Vantor paper mill employed 388 workers.")
    root = tmp_path / "index"
    run(capsys, "index", docs, "--index", root)
    rc, out, _ = run(capsys, "index", other, "--add", "--index", root)
    assert rc == 0 and out.startswith("1 added, 0 updated, 0 removed, 2 unchanged")
    rc, out, _ = run(capsys, "index", other, "--index", root)
    assert rc == 0 and out.startswith("0 added, 0 updated, 2 removed, 1 unchanged")


@pytest.mark.parametrize("make, says", [
    (lambda tmp: (["/nonexistent/docs"], tmp / "index"), "source not found: /nonexistent/docs"),
    (lambda tmp: ([], tmp / "docs" / "pim.txt"), "is a file"),
])
def test_index_errors_are_one_line_exit_1(fake_model, docs, tmp_path, capsys, make, says):
    paths, root = make(tmp_path)
    rc, out, err = run(capsys, "index", *paths, "--index", root)
    assert (rc, out) == (1, "") and says in one_line(err)
    assert one_line(err).startswith("docchat: error: ")


# -- status --------------------------------------------------------------------------------

def test_status_without_an_index_says_how_to_build_one_exit_1(fake_model, tmp_path, capsys):
    rc, out, err = run(capsys, "status", "--index", tmp_path / "none")
    assert (rc, err) == (1, "")
    assert out == f"no index at {tmp_path / 'none'}: build one with 'docchat index'\n"
    rc, out, _ = run(capsys, "status", "--index", tmp_path / "none", "--json")
    assert rc == 1 and json.loads(out)["exists"] is False
    assert not (tmp_path / "none").exists()  # status creates nothing


def test_status_says_what_the_index_holds(index, docs, capsys):
    rc, out, err = run(capsys, "status", "--index", index)
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [f"index:   {index}", "files:   2", "chunks:  2"]
    assert lines[3].endswith("(16 dimensions)") and lines[3].startswith("model:   ")
    assert lines[4].startswith("built:   20") and lines[5] == f"folders: {docs}"
    rc, out, _ = run(capsys, "status", "--index", index, "--json")
    got = json.loads(out)
    assert rc == 0 and (got["exists"], got["files"], got["dim"]) == (True, 2, 16)


# -- ask -----------------------------------------------------------------------------------

def test_ask_prints_the_answer_and_its_sources(index, docs, capsys):
    rc, out, err = run(capsys, "ask", "Which moon of Zorblax is bright green?", "--index", index)
    assert (rc, err) == (0, "")
    assert f"[1] {docs / 'pim.txt'}, page 1" in out  # the best passage, named


def test_ask_json_is_the_whole_answer(index, docs, capsys):
    rc, out, _ = run(capsys, "ask", "How many trams does the Brno depot keep?", "--index",
                     index, "--json", "-k", "1", "--engine", "extractive")
    got = json.loads(out)
    assert rc == 0 and got["question"] == "How many trams does the Brno depot keep?"
    assert got["engine"] == "extractive" and len(got["sources"]) == 1  # -k 1
    assert isinstance(got["abstained"], bool) and got["scope"] == []


def test_ask_doc_searches_only_the_named_documents(index, docs, capsys):
    rc, out, _ = run(capsys, "ask", "Which moon is bright green?", "--index", index,
                     "--doc", docs / "depot.md", "--json")
    got = json.loads(out)
    assert rc == 0 and {s["path"] for s in got["sources"]} == {str(docs / "depot.md")}
    assert got["scope"] == [str(docs / "depot.md")]


def test_ask_keeps_non_ascii_text_in_json(fake_model, tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "malmö.txt").write_text("Malmö har sju broar över kanalen, sa Zoë.",
                                    encoding="utf-8")
    run(capsys, "index", docs, "--index", tmp_path / "index")
    rc, out, _ = run(capsys, "ask", "Hur många broar har Malmö?", "--index",
                     tmp_path / "index", "--json")
    assert rc == 0 and "Malmö har sju broar" in out and "\\u00f6" not in out


@pytest.mark.parametrize("args, says", [
    (("",), "the question is empty"),
    (("   ",), "the question is empty"),
    (("x" * 5000,), "the question is 5,000 characters long"),
    (("Why?", "--doc", "nope.txt"), "no indexed document is 'nope.txt'"),
])
def test_a_question_that_cannot_be_asked_is_one_line_exit_1(index, capsys, args, says):
    rc, out, err = run(capsys, "ask", *args, "--index", index)
    assert (rc, out) == (1, "") and says in one_line(err)


def test_an_unknown_engine_is_a_bad_setting_one_line_exit_2(index, capsys):
    rc, out, err = run(capsys, "ask", "Why?", "--engine", "bogus", "--index", index)
    assert (rc, out) == (2, "")
    assert one_line(err) == ("docchat: bad setting: --engine bogus: must be one of "
                             "extractive, openai, llamacpp")


def test_ask_without_an_index_is_one_line_exit_1_and_creates_nothing(fake_model, tmp_path,
                                                                      capsys):
    rc, out, err = run(capsys, "ask", "Why?", "--index", tmp_path / "none")
    assert (rc, out) == (1, "")
    assert one_line(err) == (f"docchat: error: no index at {tmp_path / 'none'}: build one "
                             "with 'docchat index'")
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("k", ["0", "101"])
def test_a_bad_k_is_one_line_naming_the_option_exit_2(index, capsys, k):
    rc, out, err = run(capsys, "ask", "Why?", "-k", k, "--index", index)
    assert (rc, out) == (2, "") and one_line(err).startswith(f"docchat: bad setting: -k {k}: ")


# -- summarise -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["summarise", "summarize"])
def test_summarise_prints_cited_sentences_and_names_the_document(index, docs, capsys,
                                                                 command):
    rc, out, err = run(capsys, command, docs / "pim.txt", "--index", index)
    assert (rc, err) == (0, "")
    assert "[1]" in out.split("\n\n")[0]
    assert f"Summary of: {docs / 'pim.txt'}" in out and "Sources:" in out


def test_summarise_json_and_sentences(index, docs, capsys):
    rc, out, _ = run(capsys, "summarise", docs / "pim.txt", "--sentences", "1", "--json",
                     "--index", index)
    got = json.loads(out)
    assert rc == 0 and len(got["sentences"]) == 1 and got["sources"]


@pytest.mark.parametrize("n", ["0", "21", "-1"])
def test_a_sentence_count_out_of_range_is_bad_usage_in_one_line(index, docs, capsys, n):
    rc, out, err = run(capsys, "summarise", docs / "pim.txt", "--sentences", n, "--index",
                       index)
    assert (rc, out) == (2, "")
    assert one_line(err) == f"docchat: error: --sentences {n}: must be 1 to 20"


def test_summarise_an_unknown_document_is_one_line_exit_1(index, capsys):
    rc, out, err = run(capsys, "summarise", "nope.pdf", "--index", index)
    assert (rc, out) == (1, "") and "no indexed document is 'nope.pdf'" in one_line(err)


def test_argument_errors_exit_2(capsys):
    from rag.cli import main

    for args, named in ((["ask"], "question"), (["summarise"], "DOCUMENT"),
                        (["ask", "Why?", "-k", "two"], "'two'"),
                        (["summarise", "a.txt", "--sentences", "many"], "'many'")):
        with pytest.raises(SystemExit) as e:
            main(args)
        err = capsys.readouterr().err
        assert e.value.code == 2 and named in err.splitlines()[-1], (args, err)


# -- as a user types them, with the real model (moved from tests/test_cli.py) ----------------

@pytest.mark.slow
def test_ask_doc_limits_the_question_to_the_named_documents(tmp_path):
    docs = tmp_path / "reports"
    docs.mkdir()
    for year, workers in (("2023", "412"), ("2024", "388")):
        (docs / f"mill-{year}.md").write_text(f"# Mill report {year}\n\nIn {year} the Vantor "
                                              f"paper mill employed {workers} workers.\n")
    env = clean_env()
    assert docchat("index", "--index", tmp_path / "idx", docs, env=env).returncode == 0
    q = "How many workers did the Vantor paper mill employ?"
    r = docchat("ask", "--index", tmp_path / "idx", q, "--doc", docs / "mill-2024.md", env=env)
    assert r.returncode == 0, r.stderr
    answer = r.stdout.split("\n\n")[0]
    assert "388" in answer and "412" not in answer
    assert "Searched only: " in r.stdout and "mill-2024.md" in r.stdout
    assert "mill-2023.md" not in r.stdout
    r = docchat("ask", "--index", tmp_path / "idx", q, "--doc", tmp_path / "nope.md", env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "no indexed document is" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_summarise_prints_cited_sentences_of_the_document(tmp_path):
    env = clean_env()
    seed = "seeds/crocus-city-hall-attack.txt"
    assert docchat("index", "--index", tmp_path / "idx", "seeds", env=env).returncode == 0
    r = docchat("summarise", "--index", tmp_path / "idx", seed, "--sentences", "3", env=env)
    assert r.returncode == 0, r.stderr
    summary = r.stdout.split("\n\n")[0]
    assert summary.count("[1]") + summary.count("[2]") + summary.count("[3]") >= 3
    assert "Summary of: " in r.stdout and "Sources:" in r.stdout
    assert "crocus-city-hall-attack.txt" in r.stdout.split("Summary of: ")[1].splitlines()[0]
    r = docchat("summarise", "--index", tmp_path / "idx", "nope.pdf", env=env)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1


def test_index_reads_new_files_before_it_takes_the_writer(index, docs, monkeypatch, capsys):
    """Issue 20 item 3: 'docchat index' held the index's writer while it read (OCR) and
    embedded, so a running server's delete waited for it. Now it reads first: another update
    meanwhile (here a removal, as the server's delete makes it) gets the writer at once, and
    the command's own update still stores the new file."""
    import threading

    from rag import indexing
    from rag.cli import main
    from rag.settings import Settings

    gate, entered = threading.Event(), threading.Event()
    real = indexing.load

    def load(path, *a):
        if path.name.startswith("slow"):
            entered.set()
            assert gate.wait(60), "the test never opened the gate"
        return real(path, *a)

    monkeypatch.setattr(indexing, "load", load)
    (docs / "slow-scan.md").write_text("The quarry closed in 1962.\n", encoding="utf-8")
    result: dict = {}
    command = threading.Thread(target=lambda: result.update(
        rc=main(["index", str(docs), "--index", str(index)])), daemon=True)
    command.start()
    try:
        assert entered.wait(20), "docchat index never read the new file"
        (docs / "pim.txt").unlink()
        removal = threading.Thread(target=lambda: result.update(removed=indexing.update(
            index, Settings.from_env(index_dir=str(index)), [str(docs)], read_new=False,
            embedder_factory=lambda s: HashEmbedder()).removed), daemon=True)
        removal.start()
        removal.join(20)
        assert not removal.is_alive(), "the removal waited for docchat index's reading"
        assert [os.path.basename(p) for p in result["removed"]] == ["pim.txt"]
    finally:
        gate.set()
    command.join(30)
    said = capsys.readouterr()
    assert result.get("rc") == 0 and "1 added" in said.out, said
    rc, out, _ = run(capsys, "status", "--index", index, "--json")
    assert rc == 0 and json.loads(out)["files"] == 2  # depot.md and the scan, not pim.txt


def test_a_damaged_generation_is_one_line_from_every_command_and_a_new_folder_recovers(
        index, docs, capsys, tmp_path):
    """A generation that is not a number (a damaged or hand-edited meta.sqlite) was a
    ValueError's traceback from status, ask and index."""
    import sqlite3

    with sqlite3.connect(index / "meta.sqlite") as db:
        db.execute("UPDATE meta SET value = 'x' WHERE key = 'generation'")
    for args in (("status",), ("ask", "Who fixed the depot?"), ("index", docs),
                 ("index", "--full", docs)):
        rc, out, err = run(capsys, *args, "--index", index)
        assert (rc, out) == (1, ""), args
        assert one_line(err) == ("docchat: error: the index's bookkeeping is damaged (its "
                                 "generation is 'x', not a number); move the index folder "
                                 "away and run 'docchat index' to build it anew"), args
    assert run(capsys, "index", docs, "--index", tmp_path / "anew")[0] == 0
