"""The shapes that flow between stages (rag/types.py): frozen; the enums are their text in
JSON, str() and f-strings; an Answer survives to_dict -> JSON -> from_dict whole, and older
records without the later keys still load; document ids are short and stable."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from rag.types import (Abstention, Answer, AnswerSpan, Document, DocumentStatus, Feedback,
                       Fusion, Page, Sentence, Skipped, Source, Status, TextEnum,
                       UpdateSummary, document_id)


@pytest.mark.parametrize("member", [*Abstention, *DocumentStatus, *Fusion])
def test_an_enum_member_is_its_text_everywhere(member: TextEnum):
    text = member.value
    assert member == text and text == member and hash(member) == hash(text)
    assert str(member) == f"{member}" == format(member, "") == "%s" % member == text
    assert f"{member:>20}" == f"{text:>20}"
    assert json.dumps({"why": member}) == json.dumps({"why": text})
    assert type(member)(text) is member
    assert {text: 1}[member] == 1


def test_an_unknown_enum_text_is_refused():
    with pytest.raises(ValueError):
        Abstention("no evidence")
    assert Fusion("rrf") is Fusion.RRF


def full_answer() -> Answer:
    """Every field set, to values unlike their defaults."""
    text = "The Venta bridge took three years to rebuild."
    return Answer(
        question="How long?", answer=f"{text} [1]", abstained=True,
        sentences=(Sentence(text, (1, 2), False, AnswerSpan("three years", 1, 20, 31)),
                   Sentence("Unsupported.", (), True, None)),
        sources=(Source(1, "/docs/flood ü.pdf", 4, 10, 55, text, 0.91, "47",
                        ((20, 31), (40, 45))),
                 Source(2, "/docs/b.md", 1, 0, 5, "Hello", 0.2)),
        engine="openai", evidence=0.75, seconds=1.5, notes=("a", "b"),
        abstention=Abstention.DOES_NOT_FIT, confidence=0.12, scope=("/docs/flood ü.pdf",))


def test_an_answer_survives_json_whole():
    answer = full_answer()
    d = answer.to_dict()
    back = Answer.from_dict(json.loads(json.dumps(d)))
    assert back == answer
    assert back.abstention is Abstention.DOES_NOT_FIT
    assert isinstance(back.sources[0].highlights[0], tuple)
    assert d["abstention"] == "does_not_fit" and d["scope"] == ["/docs/flood ü.pdf"]
    assert d["sentences"][0]["citations"] == [1, 2] and d["notes"] == ["a", "b"]
    assert d["sources"][0]["highlights"] == [[20, 31], [40, 45]]
    assert d["sentences"][0]["answer"] == {"text": "three years", "source": 1, "start": 20,
                                           "end": 31}


def test_an_answer_dict_holds_only_json_types():
    def walk(value):
        if isinstance(value, dict):
            assert all(type(k) is str for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (str, int, float, bool), repr(value)

    walk(full_answer().to_dict())


def test_an_older_answer_record_without_the_later_keys_still_loads():
    old = {"question": "Q?", "answer": "A. [1]", "abstained": False,
           "sentences": [{"text": "A.", "citations": [1], "supported": True}],
           "sources": [{"n": 1, "path": "/d/a.md", "page": 1, "start": 0, "end": 2,
                        "text": "A.", "score": 0.5, "label": "", "highlights": []}]}
    answer = Answer.from_dict(old)
    assert answer.sentences == (Sentence("A.", (1,), True, None),)
    assert (answer.engine, answer.evidence, answer.seconds, answer.notes) == ("", 0.0, 0.0, ())
    assert (answer.abstention, answer.confidence, answer.scope) == (None, None, ())
    bare = Answer.from_dict({"question": "Q?", "answer": "", "abstained": True})
    assert bare == Answer("Q?", "", True)


def test_the_shapes_are_frozen():
    page = Page("a.txt", 1, "text")
    with pytest.raises(dataclasses.FrozenInstanceError):
        page.text = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        full_answer().abstained = False


def test_a_document_dict_gives_its_status_as_text_whichever_way_it_was_set():
    for status in (DocumentStatus.SKIPPED, "skipped"):
        d = Document("id", "/d/a.pdf", "a.pdf", "pdf", status=status, reason="no text").to_dict()
        assert d["status"] == "skipped" and type(d["status"]) is str
        assert json.loads(json.dumps(d))["reason"] == "no text"
    assert Document("i", "/d/x", "x", "").status is DocumentStatus.INDEXED


def test_a_document_id_is_short_stable_and_differs_between_paths():
    ids = {document_id(p) for p in ("/d/a.pdf", "/d/A.pdf", "/d/a.pdf ", "/d/東京.pdf", "")}
    assert len(ids) == 5
    assert all(len(i) == 16 and set(i) <= set("0123456789abcdef") for i in ids)
    assert document_id("/d/a.pdf") == document_id("/d/a.pdf")
    # stable across processes and releases: the HTTP API's URLs carry it
    assert document_id("/docs/report.pdf") == \
        hashlib.sha256(b"/docs/report.pdf").hexdigest()[:16]


def test_summary_status_and_feedback_dicts_are_plain_json():
    skipped = (Skipped("/d/scan.pdf", "no text layer"),)
    summary = UpdateSummary(added=("/d/a.md",), removed=("/d/b.md",), skipped=skipped,
                            chunks=3, full_rebuild=True, reason="model changed")
    d = summary.to_dict()
    assert d["added"] == ["/d/a.md"] and d["updated"] == [] and d["removed"] == ["/d/b.md"]
    assert d["skipped"] == [{"path": "/d/scan.pdf", "reason": "no text layer"}]
    assert (d["full_rebuild"], d["reason"], d["chunks"]) == (True, "model changed", 3)
    status = Status(True, files=2, roots=("/d",), skipped=skipped).to_dict()
    assert status["roots"] == ["/d"] and status["skipped"] == d["skipped"]
    assert Feedback("down", "other", "note", "2024").to_dict() == {
        "rating": "down", "reason": "other", "note": "note", "updated": "2024"}
    json.dumps([d, status])
