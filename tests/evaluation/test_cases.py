"""Evaluation cases from feedback (rag/evaluation/cases.py): every answer rated down becomes a
case with its question, scope and recent history, expecting an abstention when the user said
it should have abstained; cases read back from JSON lines, a bad line named; run against an
index, a case holds when the question now abstains or answers as expected."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from rag.errors import DocchatError
from rag.evaluation.cases import (CASE_HISTORY, cases_from_feedback, format_results,
                                  read_cases, run_cases, summary)
from rag.types import Abstention, Answer, Conversation, Feedback, Turn


@pytest.mark.parametrize("line", ['{"question": "q"}', "not json", '["q", "abstain"]',
                                  '{"question": " ", "expected": "answer"}'])
def test_a_line_that_is_not_a_case_is_named(tmp_path, line):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"question": "ok?", "expected": "answer"}\n' + line + "\n")
    with pytest.raises(DocchatError, match="line 2"):
        read_cases(path)


def test_results_are_one_line_each_and_a_summary():
    results = [
        {"question": "Boiling?", "expected": "abstain", "abstained": True, "holds": True,
         "abstention": "no_evidence", "error": None},
        {"question": "Died?", "expected": "answer", "abstained": True, "holds": False,
         "abstention": "no_evidence", "error": None},
        {"question": "Gone?", "expected": "answer", "abstained": None, "holds": False,
         "abstention": None, "error": "no indexed document is /x"}]
    lines = format_results(results).splitlines()
    assert lines[0].startswith("[1] holds") and "abstains (no_evidence)" in lines[0]
    assert lines[1].startswith("[2] FAILS") and lines[2].startswith("[3] error")
    assert lines[3] == ("1 of 3 cases hold (expected abstain: 1/1, expected answer: 0/2), "
                        "1 failed to run")


def answered(question: str, text: str, abstained: bool = False, scope=()) -> Answer:
    return Answer(question=question, answer=text, abstained=abstained, scope=tuple(scope),
                  abstention=Abstention.NO_EVIDENCE if abstained else None)


def turn(question: str, rating: str | None = None, reason: str | None = None,
         rated: str = "", scope=()) -> Turn:
    feedback = Feedback(rating, reason, "", rated) if rating else None
    return Turn(question, answered(question, f"About {question}", scope=scope), feedback)


class Store:
    """What cases_from_feedback reads of rag.conversations.Conversations."""

    def __init__(self, conversations: dict[tuple[str, str], list[Turn]]) -> None:
        self.conversations = conversations
        self.asked_for: list[str | None] = []

    def list_all(self, user=None):
        self.asked_for.append(user)
        return [(owner, Conversation(cid, "t", "", "")) for owner, cid in self.conversations
                if user is None or owner == user]

    def turns(self, owner, cid):
        return self.conversations[(owner, cid)]


def test_only_answers_rated_down_become_cases_oldest_rating_first():
    store = Store({
        ("ann", "c1"): [turn("Q1?", "up", rated="2024-01-01"),
                        turn("Q2?", "down", "wrong_source", "2024-03-01", scope=["/d/a.pdf"]),
                        turn("Q3?")],
        ("bob", "c2"): [turn("Q4?", "down", "should_abstain", "2024-02-01")]})
    cases = cases_from_feedback(store)
    assert [(c["question"], c["user"], c["conversation"], c["turn"], c["expected"])
            for c in cases] == [("Q4?", "bob", "c2", 1, "abstain"),
                                ("Q2?", "ann", "c1", 2, "answer")]
    assert cases[1]["scope"] == ["/d/a.pdf"] and cases[0]["scope"] == []
    assert cases[1]["history"] == [["Q1?", "About Q1?"]]
    assert json.loads(json.dumps(cases)) == cases  # what the export writes as JSON lines
    assert [c["user"] for c in cases_from_feedback(store, "bob")] == ["bob"]
    assert store.asked_for == [None, "bob"]


@pytest.mark.parametrize("reason, expected", [("should_abstain", "abstain"),
                                              ("missed_answer", "answer"),
                                              ("wrong_source", "answer"), ("other", "answer"),
                                              (None, "answer")])
def test_a_case_expects_an_abstention_only_when_the_user_said_it_should_abstain(reason,
                                                                               expected):
    store = Store({("", "c"): [turn("Q?", "down", reason, "2024-01-01")]})
    assert cases_from_feedback(store)[0]["expected"] == expected


def test_a_case_keeps_only_the_last_turns_before_it_as_history():
    turns = [turn(f"Q{i}?") for i in range(CASE_HISTORY + 3)]
    turns.append(turn("Last?", "down", "missed_answer", "2024-01-01"))
    [case] = cases_from_feedback(Store({("", "c"): turns}))
    assert [q for q, _ in case["history"]] == [f"Q{i}?" for i in range(3, CASE_HISTORY + 3)]
    assert case["turn"] == CASE_HISTORY + 4


def write(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(text.encode(encoding))
    return path


def test_cases_read_back_blank_lines_skipped_unicode_kept(tmp_path):
    lines = [{"question": "Wo liegt Zürich? 東京?", "expected": "answer", "extra": [1, 2]},
             {"question": "Boiling point?", "expected": "abstain"}]
    path = write(tmp_path, "\n" + json.dumps(lines[0], ensure_ascii=False) + "\n  \n"
                 + json.dumps(lines[1]) + "\n\n")
    assert read_cases(path) == lines
    assert read_cases(write(tmp_path, "")) == []


@pytest.mark.parametrize("line", ['{"question": 3, "expected": "answer"}',
                                  '{"question": "q", "expected": "Abstain"}',
                                  '{"question": "q", "expected": null}', "null", '"q"',
                                  '{"question": "q", "expected": "answer"'])
def test_a_bad_line_is_named_by_its_number_counting_blank_lines(tmp_path, line):
    path = write(tmp_path, '{"question": "ok?", "expected": "answer"}\n\n' + line + "\n")
    with pytest.raises(DocchatError, match=f"^{path}, line 3: not "):
        read_cases(path)


def test_a_missing_or_binary_file_is_said_in_one_line(tmp_path):
    with pytest.raises(DocchatError, match="^no such file: .*nowhere.jsonl$"):
        read_cases(tmp_path / "nowhere.jsonl")
    with pytest.raises(DocchatError, match="is not UTF-8 text"):
        read_cases(write(tmp_path, '{"question": "Crème?", "expected": "answer"}', "latin-1"))


@pytest.fixture
def asked(monkeypatch):
    """rag.answer.ask replaced: it abstains on questions ending in "?!", fails on "gone?",
    and records what it was asked."""
    calls = []

    def ask(index, question, history, engine, top_k, settings, documents=None):
        calls.append(SimpleNamespace(question=question, history=history, engine=engine,
                                     top_k=top_k, documents=documents))
        if question == "gone?":
            raise DocchatError("no indexed document is /d/gone.pdf")
        return answered(question, "x", abstained=question.endswith("?!"))

    import rag.answer

    monkeypatch.setattr(rag.answer, "ask", ask)
    return calls


def test_a_case_holds_when_the_question_now_abstains_or_answers_as_expected(asked):
    cases = [{"question": "Boiling?!", "expected": "abstain"},
             {"question": "Boiling?", "expected": "abstain", "reason": "should_abstain"},
             {"question": "Height?", "expected": "answer"},
             {"question": "Died?!", "expected": "answer"},
             {"question": "gone?", "expected": "answer", "scope": ["/d/gone.pdf"]}]
    results = run_cases(object(), cases)
    assert [(r["holds"], r["abstained"]) for r in results] == [
        (True, True), (False, False), (True, False), (False, True), (False, None)]
    assert results[0]["abstention"] == "no_evidence" and results[2]["abstention"] is None
    assert results[1]["reason"] == "should_abstain"
    assert results[4]["error"] == "no indexed document is /d/gone.pdf"
    assert summary(results) == {"cases": 5, "hold": 2, "errors": 1, "abstain_hold": 1,
                                "abstain_cases": 2, "answer_hold": 1, "answer_cases": 3}


def test_a_case_is_asked_with_its_history_and_scope_and_the_settings_engine(asked):
    cases = [{"question": "Q?", "expected": "answer", "scope": ["/d/a.pdf"],
              "history": [["Before?", "Yes."], ["broken"], ["a", "b", "c"]]},
             {"question": "R?", "expected": "answer", "scope": [], "history": None}]
    run_cases(object(), cases, SimpleNamespace(engine="extractive", top_k=7))
    first, second = asked
    assert first.history == [("Before?", "Yes.")] and first.documents == ["/d/a.pdf"]
    assert (first.engine, first.top_k) == ("extractive", 7)
    assert second.history == [] and second.documents is None  # no scope: the whole index
    run_cases(object(), cases[1:])
    assert (asked[2].engine, asked[2].top_k) == (None, None)


def test_a_long_question_is_one_short_line_and_no_errors_are_not_mentioned():
    question = "What   did\nthe committee decide " + "about the harbour budget " * 5 + "?"
    lines = format_results([{"question": question, "expected": "answer", "abstained": False,
                             "holds": True, "abstention": None, "error": None}]).splitlines()
    shown = lines[0].split("| ", 1)[1]
    assert len(shown) == 80 and shown.endswith("…") and shown.startswith("What did the")
    assert lines[1] == ("1 of 1 cases hold (expected abstain: 0/0, expected answer: 1/1)")
    assert format_results([]) == ("0 of 0 cases hold (expected abstain: 0/0, expected answer: "
                                  "0/0)")


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Editors on Windows save UTF-8 with a BOM; its first case is a case all the same."""
    case = {"question": "Qui?", "expected": "answer"}
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(case).encode() + b"\n")
    assert read_cases(path) == [case]


@pytest.mark.parametrize("extra", ['"history": [1]', '"history": [["q"]]',
                                   '"history": "q"', '"history": [["q", 2]]',
                                   '"scope": "a.pdf"', '"scope": [1]'])
def test_a_malformed_history_or_scope_is_named_on_reading_not_a_crash_later(tmp_path, extra):
    path = write(tmp_path, '{"question": "q?", "expected": "answer", ' + extra + "}\n")
    with pytest.raises(DocchatError, match=f"^{path}, line 1: \"history\" must be"):
        read_cases(path)
    ok = write(tmp_path, '{"question": "q?", "expected": "answer", "history": [["a", "b"]], '
               '"scope": ["x.pdf"]}\n')
    assert read_cases(ok)[0]["history"] == [["a", "b"]]
