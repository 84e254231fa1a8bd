"""The commands of rag/cli/evaluate.py: docchat eval (retrieval, qa, cases), conversations
(list, export) and feedback export. First, as a user types them, on the data folder a server
would have written (one process per command: tests/test_conversations_cli.py, moved here
unchanged); then in process (rag.cli.main): each bad argument is one line with the right exit
code, and eval hands its options to the runs (rag.evaluation.runs, replaced by recorders:
the runs themselves are tests/evaluation/test_runs.py's)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, clean_env, docchat

from cli.test_transfer import one_line, run
from rag.conversations import Conversations
from rag.evaluation import runs
from rag.types import Abstention, Answer, Fusion, Sentence, Source

DIED = "How many people died in the attack?"
BOILING = "What is the boiling point of water?"


def answer(q: str, text: str, abstained: bool = False, scope=()) -> Answer:
    src = Source(1, "/docs/crocus.txt", 1, 0, len(text), text, 0.9, highlights=((0, len(text)),))
    return Answer(q, text if abstained else f"{text} [1]", abstained,
                  sentences=() if abstained else (Sentence(text, (1,)),), sources=(src,),
                  abstention=Abstention.NO_EVIDENCE if abstained else None, scope=tuple(scope))


@pytest.fixture
def data(tmp_path):
    """A data folder as `docchat serve` leaves it: Ann's conversation and one without login."""
    folder = tmp_path / "data"
    store = Conversations(folder)
    ann = store.add("ann", None, DIED, answer(DIED, "At least 133 people were killed."))
    store.add("ann", ann, BOILING, answer(BOILING, "Water boils at 100 degrees.", scope=[
        str(ROOT / "seeds" / "crocus-city-hall-attack.txt")]))
    store.rate("ann", ann, 2, "down", "should_abstain", "not in these documents")
    other = store.add("", None, "Who?", answer("Who?", "Nobody knows.", abstained=True))
    store.rate("", other, 1, "down", "missed_answer")
    store.rate("ann", ann, 1, "up")
    return folder, ann, other


def test_list_shows_every_users_conversations_or_one_users(data):
    folder, ann, other = data
    r = docchat("conversations", "list", "--data", folder)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(other) and lines[1].startswith(ann)
    assert "2 turns  ann  " + DIED in lines[1] and "1 turns  -  Who?" in lines[0]
    listed = json.loads(docchat("conversations", "list", "--data", folder, "--user", "ann",
                                "--json").stdout)
    assert [(c["user"], c["id"], c["turns"]) for c in listed] == [("ann", ann, 2)]
    # --index: the data folder beside it, as the server uses
    r = docchat("conversations", "list", "--index", folder.parent / "index", "--json")
    assert len(json.loads(r.stdout)) == 2


def test_export_markdown_to_stdout_and_json_to_a_file(data, tmp_path):
    folder, ann, _ = data
    r = docchat("conversations", "export", ann, "--data", folder)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"# {DIED}\n") and f"## 2. {BOILING}" in r.stdout
    assert "At least 133 people were killed. [1]" in r.stdout
    assert "- [1] `/docs/crocus.txt`, page 1" in r.stdout
    assert "*Rated down (should abstain): not in these documents*" in r.stdout
    out = tmp_path / "conv.json"
    r = docchat("conversations", "export", ann, "--format", "json", "--out", out,
                "--data", folder, "--user", "ann")
    assert r.returncode == 0 and r.stdout == "" and "2 turns" in r.stderr
    loaded = json.loads(out.read_text())
    stored = Conversations(folder).turns("ann", ann)
    assert [Answer.from_dict(t["answer"]) for t in loaded["turns"]] == [t.answer for t in stored]
    assert loaded["turns"][1]["feedback"]["reason"] == "should_abstain"


def test_an_unknown_or_another_users_conversation_is_one_line_exit_1(data, tmp_path):
    folder, ann, _ = data
    for args in (("nope",), (ann, "--user", "bob"), (ann, "--user", "")):
        r = docchat("conversations", "export", *args, "--data", folder)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "no conversation" in r.stderr and r.stdout == ""
    empty = tmp_path / "no-data-here"
    r = docchat("conversations", "list", "--data", empty)
    assert r.returncode == 0 and r.stdout == "" and not empty.exists()  # nothing created
    r = docchat("feedback", "export", "--data", empty)
    assert r.returncode == 0 and r.stdout == ""


def test_feedback_export_writes_the_thumbs_down_as_cases(data, tmp_path):
    folder, ann, other = data
    r = docchat("feedback", "export", "--data", folder)
    assert r.returncode == 0, r.stderr
    cases = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(c["question"], c["expected"], c["reason"], c["user"]) for c in cases] == [
        (BOILING, "abstain", "should_abstain", "ann"), ("Who?", "answer", "missed_answer", "")]
    assert cases[0]["note"] == "not in these documents" and cases[0]["history"] == [
        [DIED, "At least 133 people were killed. [1]"]]
    assert cases[0]["scope"] == [str(ROOT / "seeds" / "crocus-city-hall-attack.txt")]
    assert cases[0]["answer"] == "Water boils at 100 degrees. [1]"
    out = tmp_path / "cases.jsonl"
    r = docchat("feedback", "export", "--data", folder, "--user", "ann", "--out", out)
    assert r.returncode == 0 and "wrote 1 cases" in r.stderr
    assert [json.loads(line)["conversation"] for line in out.read_text().splitlines()] == [ann]


@pytest.mark.slow
def test_eval_cases_reports_whether_each_expectation_holds_now(tmp_path):
    env = clean_env()
    seed = ROOT / "seeds" / "crocus-city-hall-attack.txt"
    assert docchat("index", "--index", tmp_path / "index", seed, env=env).returncode == 0
    cases = [{"question": BOILING, "expected": "abstain", "scope": [str(seed)]},
             {"question": DIED, "expected": "answer", "scope": []},
             {"question": DIED, "expected": "abstain"},
             {"question": DIED, "expected": "answer", "scope": [str(tmp_path / "gone.txt")]}]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    r = docchat("eval", "cases", path, "--index", tmp_path / "index", env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("[1] holds") and "it abstains" in lines[0]
    assert lines[1].startswith("[2] holds") and "it answers" in lines[1]
    assert lines[2].startswith("[3] FAILS") and "expected abstain, it answers" in lines[2]
    assert lines[3].startswith("[4] error") and "gone.txt" in lines[3]
    assert lines[4] == ("2 of 4 cases hold (expected abstain: 1/2, expected answer: 1/2), "
                        "1 failed to run")
    r = docchat("eval", "cases", path, "--index", tmp_path / "index", "--json", env=env)
    result = json.loads(r.stdout)
    assert [c["holds"] for c in result["cases"]] == [True, True, False, False]
    assert result["summary"]["hold"] == 2
    r = docchat("eval", "cases", tmp_path / "missing.jsonl", "--index", tmp_path / "index")
    assert r.returncode == 1 and "no such file" in r.stderr


# -- in process: eval hands its options to the runs ---------------------------------------------

@pytest.fixture
def ran(monkeypatch):
    """The three runs replaced by recorders returning a small result."""
    calls = []

    def recorder(name):
        def record(path, settings, **kw):
            calls.append((name, path, settings, kw))
            return {"dataset": Path(path).name, "ndcg@10": 0.5, "questions": 2}
        return record

    for name in ("run_beir", "run_squad", "run_squad_absent"):
        monkeypatch.setattr(runs, name, recorder(name))
    return calls


def test_eval_retrieval_passes_its_options_and_prints_the_figures(ran, capsys, tmp_path):
    rc, out, err = run(capsys, "eval", "retrieval", "--beir", tmp_path / "scifact", "--limit",
                       "7", "--fusion", "rrf", "--split", "train", "--index", tmp_path / "i")
    assert (rc, err) == (0, "")
    ((name, path, settings, kw),) = ran
    assert (name, path) == ("run_beir", tmp_path / "scifact")
    assert kw == {"limit": 7, "fusion": Fusion.RRF, "split": "train"}
    assert out.splitlines() == ["dataset    scifact", "ndcg@10    0.5", "questions  2"]


def test_eval_json_prints_the_result_as_json(ran, capsys, tmp_path):
    rc, out, _ = run(capsys, "eval", "retrieval", "--beir", tmp_path / "b", "--json")
    assert rc == 0 and json.loads(out) == {"dataset": "b", "ndcg@10": 0.5, "questions": 2}
    assert ran[0][3] == {"limit": None, "fusion": Fusion.CONVEX, "split": "test"}  # defaults


@pytest.mark.parametrize("flags, name", [((), "run_squad"), (("--absent",), "run_squad_absent")])
def test_eval_qa_runs_squad_or_the_answer_absent_variant(ran, capsys, tmp_path, flags, name):
    rc, _, err = run(capsys, "eval", "qa", "--squad", tmp_path / "dev.json", "--articles",
                     "odd", "--limit", "3", "--engine", "extractive", "-k", "4", *flags)
    assert (rc, err) == (0, "")
    ((got, path, settings, kw),) = ran
    assert (got, path) == (name, tmp_path / "dev.json")
    assert kw == {"limit": 3, "engine": "extractive", "articles": "odd"}
    assert settings.top_k == 4


# -- in process: bad arguments, one line and the right exit code --------------------------------

@pytest.mark.parametrize("limit", ["0", "-3"])
def test_a_limit_below_one_is_refused_in_one_line(ran, capsys, tmp_path, limit):
    """--limit 0 ran every query and --limit -3 all but the last three (retrieval), or
    stopped with random.sample's traceback (qa)."""
    for what in ("retrieval", "qa"):
        rc, out, err = run(capsys, "eval", what, "--limit", limit)
        assert (rc, out) == (2, "")
        assert one_line(err) == f"docchat: error: --limit {limit}: must be 1 or more"
    assert ran == []


def test_argument_errors_exit_2_naming_the_bad_value(capsys):
    from rag.cli import main

    for args, named in ((["eval"], "what"), (["eval", "qa", "--articles", "bogus"], "'bogus'"),
                        (["eval", "nonsense"], "'nonsense'"),
                        (["eval", "retrieval", "--fusion", "max"], "'max'"),
                        (["eval", "qa", "--limit", "ten"], "'ten'"),
                        (["conversations"], "action"), (["conversations", "export"], "id"),
                        (["feedback"], "action")):
        with pytest.raises(SystemExit) as e:
            main(args)
        err = capsys.readouterr().err
        assert e.value.code == 2, args
        assert err.splitlines()[-1].startswith(f"docchat {args[0]}") and named in err, err


def test_eval_cases_without_a_file_is_one_line_exit_2(capsys):
    rc, out, err = run(capsys, "eval", "cases")
    assert (rc, out) == (2, "") and "needs the FILE of cases" in one_line(err)


def test_eval_cases_of_a_missing_or_bad_file_is_one_line_exit_1(capsys, tmp_path):
    rc, _, err = run(capsys, "eval", "cases", tmp_path / "none.jsonl", "--index", tmp_path)
    assert rc == 1 and one_line(err) == f"docchat: error: no such file: {tmp_path / 'none.jsonl'}"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Q?", "expected": "answer"}\n{oops\n', encoding="utf-8")
    rc, _, err = run(capsys, "eval", "cases", bad, "--index", tmp_path)
    assert rc == 1 and one_line(err).startswith(f"docchat: error: {bad}, line 2: not JSON")


@pytest.mark.parametrize("text", ["not json at all", '{"version": "v2.0"}', '{"data": 3}',
                                  '{"data": [{"paragraphs": [{"qas": []}]}]}'])
def test_eval_qa_on_a_file_that_is_not_squad_is_one_line_naming_it(capsys, tmp_path, text):
    f = tmp_path / "dev.json"
    f.write_text(text, encoding="utf-8")
    rc, out, err = run(capsys, "eval", "qa", "--squad", f, "--index", tmp_path / "i")
    assert (rc, out) == (1, "")
    assert one_line(err).startswith(f"docchat: error: {f}: not a SQuAD 2.0 file"), err


def test_eval_retrieval_on_a_bad_beir_folder_is_one_line_naming_the_file(capsys, tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    rc, _, err = run(capsys, "eval", "retrieval", "--beir", folder)
    assert rc == 1 and str(folder / "corpus.jsonl") in one_line(err)  # missing
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n{"text": "no id"}\n',
                                         encoding="utf-8")
    rc, _, err = run(capsys, "eval", "retrieval", "--beir", folder)
    assert rc == 1
    assert one_line(err).startswith(f"docchat: error: {folder / 'corpus.jsonl'}, line 2: "), err
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n', encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "y"}\n', encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n",
                                              encoding="utf-8")
    rc, _, err = run(capsys, "eval", "retrieval", "--beir", folder)
    assert rc == 1
    assert one_line(err).startswith(f"docchat: error: {folder / 'qrels' / 'test.tsv'}, line 2: ")


def test_an_export_into_a_missing_folder_is_one_line_exit_1(data, capsys, tmp_path):
    folder, ann, _ = data
    for args in (("conversations", "export", ann), ("feedback", "export")):
        out = tmp_path / "no" / "x.txt"
        rc, stdout, err = run(capsys, *args, "--data", folder, "--out", out)
        assert (rc, stdout) == (1, "") and str(out) in one_line(err)
        assert not out.parent.exists()


def test_listing_and_exporting_keep_non_ascii_text_as_it_is(tmp_path, capsys):
    folder = tmp_path / "data"
    q = "Wie viele Brücken hat Malmö? 東京"
    Conversations(folder).add("zoë", None, q, answer(q, "Sieben Brücken."))
    rc, out, _ = run(capsys, "conversations", "list", "--data", folder, "--json")
    assert rc == 0 and q in out and json.loads(out)[0]["user"] == "zoë"
    rc, out, _ = run(capsys, "conversations", "list", "--data", folder)
    assert rc == 0 and out.rstrip().endswith(f"zoë  {q}")


def test_eval_qa_with_an_unknown_engine_is_refused_before_any_run(ran, capsys, tmp_path):
    """The run indexes the whole SQuAD corpus before its first question: minutes, then the
    error. An engine it cannot make is refused first."""
    rc, out, err = run(capsys, "eval", "qa", "--engine", "bogus", "--squad", tmp_path / "x")
    assert (rc, out) == (2, "") and ran == []  # a bad setting, as DOCCHAT_ENGINE=bogus
    assert one_line(err) == ("docchat: bad setting: --engine bogus: must be one of "
                             "extractive, openai, llamacpp")
