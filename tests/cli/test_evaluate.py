"""docchat conversations list|export, docchat feedback export and docchat eval cases, as a
user types them, on the data folder a server would have written (one process per command)."""
from __future__ import annotations

import json

import pytest
from conftest import ROOT, clean_env, docchat

from rag.conversations import Conversations
from rag.types import Abstention, Answer, Sentence, Source

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
