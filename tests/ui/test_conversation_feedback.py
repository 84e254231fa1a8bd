"""Feedback on answers and conversation exports (rag/conversations.py, rag/evaluation/cases.py):
a real SQLite file, two users, an old database migrated in place. The page's thumbs:
tests/ui/test_page_conversation.py and tests/ui/test_page_chat.py."""
from __future__ import annotations

import json
import sqlite3

import pytest

from rag.conversations import (FILE, UNTITLED, Conversations, export_json, export_markdown,
                               export_name)
from rag.errors import NotFoundError
from rag.evaluation.cases import cases_from_feedback, read_cases
from rag.types import Abstention, Answer, AnswerSpan, Conversation, Sentence, Source
from test_conversations import answer


def rich_answer() -> Answer:
    """Every field of an Answer set, so a lossy round trip would show."""
    text = "The bridge over the Venta took three years to rebuild."
    src = Source(n=1, path="/docs/flood notes.pdf", page=4, start=10, end=10 + len(text),
                 text=text, score=0.91, label="47", highlights=((10, 64),))
    other = Source(n=2, path="/docs/other.md", page=1, start=0, end=20,
                   text="Unrelated text here.", score=0.2)
    return Answer(question="How long did the rebuild take?", answer=f"{text} [1]",
                  abstained=False, sentences=(Sentence(text, (1,), True,
                                                       AnswerSpan("three years", 1, 40, 51)),),
                  sources=(src, other), engine="extractive", evidence=0.75, seconds=0.31,
                  notes=("reader: 0.88",), abstention=None, confidence=0.88,
                  scope=("/docs/flood notes.pdf",))


def abstention() -> Answer:
    return Answer(question="Boiling point?", answer="The documents do not contain an answer "
                  "to this question.", abstained=True, abstention=Abstention.NO_EVIDENCE,
                  sources=(Source(1, "/docs/a.md", 1, 0, 5, "Hello", 0.1),))


def test_feedback_is_stored_per_turn_replaced_cleared_and_dropped_with_its_turn(tmp_path):
    store = Conversations(tmp_path)
    conv = store.add("", None, "How tall?", answer("How tall?", "31 m."))
    store.add("", conv, "Colour?", answer("Colour?", "Teal."))
    store.rate("", conv, 1, "up")
    store.rate("", conv, 2, "down", "wrong_source", "  cites the wrong page  ")
    turns = Conversations(tmp_path).turns("", conv)  # reopened: as a restarted server
    assert turns[0].feedback.rating == "up" and turns[0].feedback.reason is None
    assert (turns[1].feedback.rating, turns[1].feedback.reason, turns[1].feedback.note) == \
        ("down", "wrong_source", "cites the wrong page")
    store.rate("", conv, 1, "down", "should_abstain")  # a new rating replaces the old one
    assert store.turns("", conv)[0].feedback.reason == "should_abstain"
    store.unrate("", conv, 1)
    assert store.turns("", conv)[0].feedback is None
    store.drop_last("", conv)  # Regenerate: the new answer of turn 2 starts unrated
    store.add("", conv, "Colour?", answer("Colour?", "Teal, again."))
    assert store.turns("", conv)[1].feedback is None
    for turn in (0, 3, 2**70):
        with pytest.raises(NotFoundError):
            store.rate("", conv, turn, "up")


@pytest.mark.parametrize("rating, reason, note", [
    ("meh", None, ""), ("up", "wrong_source", ""), ("down", "bad_vibes", ""),
    ("down", None, "x" * 2001)])
def test_a_bad_rating_reason_or_note_is_refused(tmp_path, rating, reason, note):
    store = Conversations(tmp_path)
    conv = store.add("", None, "Q?", answer("Q?", "A."))
    with pytest.raises(ValueError):
        store.rate("", conv, 1, rating, reason, note)
    assert store.turns("", conv)[0].feedback is None
    store.rate("", conv, 1, "down", "other", "x" * 2000)  # the longest note is fine


def test_a_user_cannot_rate_or_read_another_users_conversation(tmp_path):
    store = Conversations(tmp_path)
    ann = store.add("ann", None, "Ann's question?", answer("Ann's question?", "a"))
    bob = store.create("bob", "Bob's talk")
    store.add("bob", bob.id, "Bob asks?", answer("Bob asks?", "b"))
    store.rate("ann", ann, 1, "down", "missed_answer")
    for call in (lambda: store.rate("bob", ann, 1, "up"), lambda: store.unrate("bob", ann, 1),
                 lambda: store.turns("bob", ann), lambda: store.get("bob", ann),
                 lambda: store.rate("ann", bob.id, 1, "up")):
        with pytest.raises(NotFoundError):
            call()
    assert store.turns("ann", ann)[0].feedback.reason == "missed_answer"
    assert [c.title for c in store.list("bob")] == ["Bob's talk"]
    assert {(u, c.id) for u, c in store.list_all()} == {("ann", ann), ("bob", bob.id)}
    assert [c.id for _, c in store.list_all("bob")] == [bob.id]
    assert store.owner(ann) == "ann" and store.owner("nope") is None
    # feedback export per user: only Ann's thumbs down
    assert [c["user"] for c in cases_from_feedback(store)] == ["ann"]
    assert cases_from_feedback(store, "bob") == []


def test_an_empty_conversation_is_named_by_its_first_question(tmp_path):
    store = Conversations(tmp_path)
    conv = store.create("", "   ")
    assert conv.title == UNTITLED and store.list("")[0].turns == 0
    store.add("", conv.id, "What   is it?", answer("What is it?", "x"))
    assert store.get("", conv.id).title == "What is it?"
    titled = store.create("", "Kept")
    store.add("", titled.id, "Other?", answer("Other?", "y"))
    assert store.get("", titled.id).title == "Kept"


def test_an_old_database_gets_the_feedback_table_and_keeps_its_conversations(tmp_path):
    """A conversations.sqlite made before feedback existed (its schema as it was)."""
    db = sqlite3.connect(tmp_path / FILE)
    db.executescript("""
        CREATE TABLE conversations(id TEXT PRIMARY KEY, user TEXT NOT NULL,
            title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
        CREATE INDEX conversations_user ON conversations(user, updated);
        CREATE TABLE turns(conversation TEXT NOT NULL, n INTEGER NOT NULL,
            question TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY(conversation, n));""")
    old = answer("Old?", "Old answer.")
    db.execute("INSERT INTO conversations VALUES ('c1', '', 'Old?', '2024-01-01', '2024-01-01')")
    db.execute("INSERT INTO turns VALUES ('c1', 0, 'Old?', ?)", (json.dumps(old.to_dict()),))
    db.commit()
    db.close()
    store = Conversations(tmp_path)
    assert [t.answer for t in store.turns("", "c1")] == [old]
    store.rate("", "c1", 1, "down", "other", "still wrong")
    assert Conversations(tmp_path).turns("", "c1")[0].feedback.note == "still wrong"


def test_the_json_export_loads_back_into_the_same_answers(tmp_path):
    store = Conversations(tmp_path)
    a, b = rich_answer(), abstention()
    conv = store.add("", None, a.question, a)
    store.add("", conv, b.question, b)
    store.rate("", conv, 2, "down", "missed_answer", "it is on page 4")
    data = json.loads(export_json(store.get("", conv), store.turns("", conv)))
    assert data["format"] == "docchat-conversation" and data["id"] == conv
    assert [t["n"] for t in data["turns"]] == [1, 2]
    assert [Answer.from_dict(t["answer"]) for t in data["turns"]] == [a, b]
    assert data["turns"][0]["feedback"] is None
    assert data["turns"][1]["feedback"]["reason"] == "missed_answer"


def test_the_markdown_export_reads_as_questions_answers_and_cited_sources(tmp_path):
    store = Conversations(tmp_path)
    a, b = rich_answer(), abstention()
    conv = store.add("", None, a.question, a)
    store.add("", conv, b.question, b)
    store.rate("", conv, 1, "down", "wrong_source", "page 5, not 4")
    md = export_markdown(store.get("", conv), store.turns("", conv))
    lines = md.splitlines()
    assert lines[0] == "# How long did the rebuild take?"
    assert "## 1. How long did the rebuild take?" in lines and "## 2. Boiling point?" in lines
    assert "The bridge over the Venta took three years to rebuild. [1]" in lines
    assert "- [1] `/docs/flood notes.pdf`, page 4 (printed 47)" in lines
    assert "  > The bridge over the Venta took three years to rebuild." in lines
    assert "- [2] `/docs/other.md`, page 1 (not cited)" in lines
    assert "Searched only: `/docs/flood notes.pdf`" in lines
    assert "*Rated down (wrong source): page 5, not 4*" in lines
    assert "**No answer found.** The documents do not contain an answer to this question." \
        in lines and "**Closest passages**" in lines
    assert md.index("## 1.") < md.index("[1] `/docs/flood") < md.index("## 2.")


@pytest.mark.parametrize("title, name", [
    ("How long did the rebuild take?", "docchat-how-long-did-the-rebuild-take.md"),
    ('../../etc/passwd"; rm -rf /', "docchat-etc-passwd-rm-rf.md"),
    ("Café Ørsted — 東京", "docchat-cafe-rsted.md"),
    ("東京", "docchat-conversation.md"),
    ("x" * 300, "docchat-" + "x" * 60 + ".md")])
def test_export_file_names_are_safe(title, name):
    assert export_name(Conversation("id", title, "", ""), "md") == name


def test_feedback_export_makes_evaluation_cases_that_read_back(tmp_path):
    store = Conversations(tmp_path)
    conv = store.add("", None, "How long?", rich_answer())
    store.add("", conv, "Boiling point?", abstention())
    store.add("", conv, "Third?", answer("Third?", "c"))
    store.rate("", conv, 1, "down", "should_abstain", "not in the docs")
    store.rate("", conv, 2, "down", "missed_answer")
    store.rate("", conv, 3, "up")
    cases = cases_from_feedback(store)
    assert [(c["question"], c["expected"], c["reason"]) for c in cases] == [
        ("How long?", "abstain", "should_abstain"), ("Boiling point?", "answer", "missed_answer")]
    first, second = cases
    assert first["scope"] == ["/docs/flood notes.pdf"] and first["note"] == "not in the docs"
    assert first["answer"].endswith("[1]") and first["history"] == []
    assert second["history"] == [["How long?", rich_answer().answer]]
    assert second["abstained"] and second["turn"] == 2 and second["conversation"] == conv
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases) + "\n")
    assert read_cases(path) == cases
