"""rag/conversations.py: a real SQLite file, reopened as a restarted server would."""
from __future__ import annotations

import time

import pytest

from rag.conversations import TITLE_CHARS, Conversations
from rag.errors import NotFoundError
from rag.types import Answer, Sentence, Source


def answer(q: str, fact: str) -> Answer:
    src = Source(n=1, path="/docs/a.pdf", page=3, start=100, end=100 + len(fact), text=fact,
                 score=0.8, label="iv", highlights=((100, 100 + len(fact)),))
    return Answer(question=q, answer=f"{fact} [1]", abstained=False,
                  sentences=(Sentence(fact, (1,)),), sources=(src,), engine="extractive",
                  evidence=0.7, seconds=0.2, notes=("n",))


def test_turns_survive_a_reopen_with_their_sources_exactly(tmp_path):
    store = Conversations(tmp_path)
    a1, a2 = answer("How tall?", "It is 31 m tall."), answer("Colour?", "It is teal.")
    conv = store.add("", None, "How tall?", a1)
    assert store.add("", conv, "Colour?", a2) == conv
    reopened = Conversations(tmp_path)  # a new process would do the same
    turns = reopened.turns("", conv)
    assert [t.question for t in turns] == ["How tall?", "Colour?"]
    assert [t.answer for t in turns] == [a1, a2]  # sources, spans and labels intact


def test_listed_newest_first_titled_by_the_first_question_rename_and_delete(tmp_path):
    store = Conversations(tmp_path)
    old = store.add("", None, "First   question?\n", answer("First question?", "x"))
    time.sleep(0.01)
    new = store.add("", None, "Q " * 100, answer("q", "y"))
    listed = store.list("")
    assert [c.id for c in listed] == [new, old]
    assert listed[1].title == "First question?" and len(listed[0].title) == TITLE_CHARS
    time.sleep(0.01)
    store.add("", old, "Again?", answer("Again?", "z"))  # used again: first in the list
    assert [c.id for c in store.list("")] == [old, new]
    assert store.list("")[0].turns == 2
    store.rename("", old, "  Lighthouse  ")
    assert store.get("", old).title == "Lighthouse"
    store.rename("", old, "   ")  # an empty name keeps the old one
    assert store.get("", old).title == "Lighthouse"
    store.drop_last("", old)
    assert [t.question for t in store.turns("", old)] == ["First   question?\n"]
    store.delete("", old)
    assert [c.id for c in Conversations(tmp_path).list("")] == [new]
    with pytest.raises(NotFoundError):
        store.turns("", old)


def test_a_user_sees_and_changes_only_their_own_conversations(tmp_path):
    store = Conversations(tmp_path)
    mine = store.add("ann", None, "Mine?", answer("Mine?", "a"))
    store.add("bob", None, "Bob's?", answer("Bob's?", "b"))
    assert [c.title for c in store.list("ann")] == ["Mine?"]
    assert store.list("") == []
    for call in (lambda: store.turns("bob", mine), lambda: store.rename("bob", mine, "x"),
                 lambda: store.delete("bob", mine), lambda: store.drop_last("bob", mine),
                 lambda: store.add("bob", mine, "q", answer("q", "c"))):
        with pytest.raises(NotFoundError):
            call()
    assert [t.question for t in store.turns("ann", mine)] == ["Mine?"]


def test_creating_a_conversation_with_a_chosen_id_is_idempotent(tmp_path):
    """Issue 19, item 4: a Stop that cut off the moment a first answer was stored left the
    page without the new conversation's id, and Regenerate made a twin. The page now picks
    the id before asking; the second add with it appends to the same conversation."""
    store = Conversations(tmp_path)
    a = answer("How many died?", "133 died.")
    first = store.add("", None, "How many died?", a, new_id="c0ffee" * 5)
    assert first == "c0ffee" * 5 and store.count("", first) == 1
    store.drop_last("", first)  # Regenerate replaces the stopped turn...
    again = store.add("", None, "How many died?", a, new_id=first)  # ...in the same one
    assert again == first and len(store.list("")) == 1 and store.count("", first) == 1
    assert store.count("", "no-such-id") == 0 and store.count("other-user", first) == 0
