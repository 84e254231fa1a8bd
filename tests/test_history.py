"""rag/history.py: the one history slice, as retrieval and the LLM prompt read it."""
from __future__ import annotations

from rag.engines.prompt import build_messages
from rag.history import recent
from rag.retrieval import retrieval_query
from rag.types import Hit


def test_history_turns_zero_means_no_history():
    turns = ["Who attacked?", "Were they caught?", "When?"]
    assert recent(turns, 0) == []
    assert recent(turns, 2) == ["Were they caught?", "When?"]
    assert recent(turns, 5) == turns
    assert retrieval_query("Why?", turns, 0) == "Why?"
    hit = Hit(chunk_id=1, path="/d.txt", page=1, start=0, end=3, text="abc", score=1.0)
    pairs = [(t, "answer") for t in turns]
    users = [m["content"] for m in build_messages("Why?", [hit], pairs)[1:-1:2]]
    assert users == ["Were they caught?", "When?"]  # HISTORY_TURNS = 2
