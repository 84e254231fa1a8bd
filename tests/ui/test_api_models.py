"""The HTTP API's wire schemas (ui/api_models.py), without a server: what a request may hold
(limits, refused values with the field that is wrong and why), that the JSON Schema a client
reads says the same as the model the server checks with, and that what the API returns (the
rag/ shapes' to_dict) passes its response model whole: no field dropped, nothing renamed.
The API over HTTP: tests/ui/api/; generated requests against a running server:
tests/ui/test_schema_fuzz.py."""
from __future__ import annotations

import re
from dataclasses import asdict

import jsonschema
import pytest
from pydantic import ValidationError

from rag import ENGINES
from rag.conversations import conversation_dict
from rag.types import (FEEDBACK_NOTE_CHARS, FEEDBACK_REASONS, Abstention, Answer, AnswerSpan,
                       Conversation, Document, DocumentStatus, Feedback, Sentence, Skipped,
                       Source, Status, Turn, UpdateSummary)
from ui.api_models import (MAX_HISTORY, MAX_SCOPE, MAX_TURN_CHARS, NOT_BLANK, AnswerOut,
                           AskOut, AskRequest, ConversationIn, ConversationOut,
                           ConversationTurnsOut, DocumentOut, FeedbackIn, FeedbackOut,
                           RatedOut, SearchRequest, StatusOut, SummaryOut)


def refusal(model, **fields) -> dict:
    """The one error pydantic gives for ``fields`` (the test fails if it accepts them)."""
    with pytest.raises(ValidationError) as refused:
        model(**fields)
    (error,) = refused.value.errors()
    return error


# --- requests: what a client may send ---------------------------------------------------

#: Every character Python's str.split() treats as white space (what the service strips).
PY_SPACE = [chr(c) for c in range(0x3100) if chr(c).isspace()]


@pytest.mark.parametrize("question", ["", " ", "\t\n", "\u3000\xa0", "\x1c\x1d\x1e\x1f",
                                      "\x85", "\u2028 \u2029"], ids=repr)
def test_a_blank_question_is_refused_naming_the_question(question):
    error = refusal(AskRequest, question=question)
    assert error["loc"] == ("question",)


def test_blank_means_exactly_what_str_split_sees_as_nothing():
    """The service splits the question into words: a question the model lets through always
    has a word, and one with a word is never refused as blank."""
    for cp in range(0x3100):
        if 0xD800 <= cp < 0xE000:
            continue
        text = f"{chr(cp)} "
        try:
            AskRequest(question=text)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == bool(text.split()), repr(text)


#: ECMA-262's \s (its WhiteSpace and LineTerminator), which is what a JavaScript client (or
#: any OpenAPI tool on an ECMA regex engine) reads the schema's patterns with.
ECMA_SPACE = "\t\v\f \xa0\ufeff\u1680\u2000-\u200a\u202f\u205f\u3000\n\r\u2028\u2029"


def as_ecma(pattern: str) -> re.Pattern:
    """``pattern`` as ECMA-262 reads it (only \\s differs for the patterns here)."""
    return re.compile(pattern.replace(r"\s", ECMA_SPACE))


def test_the_schemas_blank_rule_means_the_same_to_a_javascript_client():
    """The pattern is published in the OpenAPI schema: read by ECMA-262's rules, it must refuse
    exactly the questions the server refuses (not pass U+0085 that the server refuses, nor
    refuse a U+FEFF that the server answers)."""
    published = AskRequest.model_json_schema()["properties"]["question"]["pattern"]
    assert published == NOT_BLANK
    candidates = [*PY_SPACE, "\ufeff", "\u200b", "a"]
    disagree = [c for c in candidates
                if bool(as_ecma(NOT_BLANK).search(c)) != bool(c.split())]
    assert disagree == []


def test_a_question_with_words_in_any_script_is_accepted_as_sent():
    for q in ["Wer?", "谁是作者？", "Ποιος;", "🙂 who?", "  padded  ", "a" * 100_000]:
        assert AskRequest(question=q).question == q  # not stripped, no length cap of its own


def test_history_limits_turns_and_characters_and_names_the_bad_turn():
    ok = [("q", "a" * MAX_TURN_CHARS)] * MAX_HISTORY
    assert len(AskRequest(question="q", history=ok).history) == MAX_HISTORY
    assert refusal(AskRequest, question="q", history=ok + [("q", "a")])["loc"] == ("history",)
    error = refusal(AskRequest, question="q",
                    history=[("q", "a"), ("q", "a" * (MAX_TURN_CHARS + 1))])
    assert error["loc"] == ("history", 1, 1) and error["type"] == "string_too_long"
    assert refusal(AskRequest, question="q", history=[("q", "a", "x")])["loc"] == ("history", 0)
    assert refusal(AskRequest, question="q", history=[("q", None)])["loc"] == ("history", 0, 1)


@pytest.mark.parametrize("k, ok", [(0, False), (1, True), (50, True), (51, False),
                                   (-3, False), (2.5, False)])
def test_k_is_between_1_and_50_for_ask_and_search(k, ok):
    for model, fields in ((AskRequest, {"question": "q"}), (SearchRequest, {"query": "q"})):
        if ok:
            assert model(**fields, k=k).k == k
        else:
            assert refusal(model, **fields, k=k)["loc"] == ("k",)


def test_search_defaults_to_5_passages_and_caps_the_query_at_2000_characters():
    assert SearchRequest(query="q").k == 5
    assert SearchRequest(query="x" * 2000).query == "x" * 2000
    assert refusal(SearchRequest, query="x" * 2001)["type"] == "string_too_long"
    assert refusal(SearchRequest, query=" \n ")["loc"] == ("query",)


@pytest.mark.parametrize("model, fields", [(AskRequest, {"question": "q"}),
                                           (SearchRequest, {"query": "q"})])
def test_a_scope_names_1_to_1000_non_empty_documents(model, fields):
    assert model(**fields).documents is None  # omitted: every document
    assert model(**fields, documents=["a"] * MAX_SCOPE).documents == ["a"] * MAX_SCOPE
    assert model(**fields, documents=["/d/" + "x" * 4092]).documents
    assert refusal(model, **fields, documents=[])["loc"] == ("documents",)
    assert refusal(model, **fields, documents=["a"] * (MAX_SCOPE + 1))["loc"] == ("documents",)
    assert refusal(model, **fields, documents=["a", ""])["loc"] == ("documents", 1)
    assert refusal(model, **fields, documents=["x" * 4097])["type"] == "string_too_long"


def test_an_unknown_engine_is_refused_listing_the_engines():
    assert AskRequest(question="q").engine is None  # the server's default
    for engine in ENGINES:
        assert AskRequest(question="q", engine=engine).engine == engine
    error = refusal(AskRequest, question="q", engine="gpt-4")
    assert error["loc"] == ("engine",)
    assert all(e in error["msg"] for e in ENGINES)


@pytest.mark.parametrize("conv_id", ["a", "0" * 64, "ab_CD-09"])
def test_a_conversation_id_like_the_servers_is_accepted(conv_id):
    assert AskRequest(question="q", conversation_id=conv_id).conversation_id == conv_id


@pytest.mark.parametrize("conv_id", ["", "0" * 65, "../etc", "a b", "a/b", "ä", "a\n"],
                         ids=repr)
def test_a_conversation_id_that_could_not_be_the_servers_is_refused(conv_id):
    assert refusal(AskRequest, question="q", conversation_id=conv_id)["loc"] == (
        "conversation_id",)


def test_a_conversation_and_a_history_are_not_sent_together():
    assert AskRequest(question="q", conversation_id="c1", history=[]).conversation_id == "c1"
    error = refusal(AskRequest, question="q", conversation_id="c1", history=[("q", "a")])
    assert "conversation_id" in error["msg"] and "history" in error["msg"]


def test_the_schema_says_a_conversation_and_a_history_are_not_sent_together():
    schema = AskRequest.model_json_schema()
    jsonschema.validate({"question": "q", "conversation_id": "c1", "history": []}, schema)
    jsonschema.validate({"question": "q", "history": [["q", "a"]]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"question": "q", "conversation_id": "c1",
                             "history": [["q", "a"]]}, schema)


def test_a_conversation_title_is_optional_and_at_most_200_characters():
    assert ConversationIn().title == ""
    assert ConversationIn(title="ü" * 200).title == "ü" * 200
    assert refusal(ConversationIn, title="x" * 201)["loc"] == ("title",)


@pytest.mark.parametrize("model, fields", [
    (AskRequest, {"question": "why \ud800?"}),
    (AskRequest, {"question": "q", "history": [("q", "a \udfff")]}),
    (ConversationIn, {"title": "\ud800"}),
    (FeedbackIn, {"rating": "down", "note": "\ud800"}),
])
def test_an_unpaired_surrogate_is_refused_as_not_text(model, fields):
    error = refusal(model, **fields)
    assert "string" in error["msg"] or "surrogate" in error["msg"]


def test_feedback_up_or_down_a_reason_only_with_down_and_a_bounded_note():
    assert FeedbackIn(rating="up").reason is None
    for reason in FEEDBACK_REASONS:
        assert FeedbackIn(rating="down", reason=reason).reason == reason
    note = "n" * FEEDBACK_NOTE_CHARS
    assert FeedbackIn(rating="down", note=note).note == note
    assert refusal(FeedbackIn, rating="down", note=note + "n")["loc"] == ("note",)
    assert refusal(FeedbackIn, rating="meh")["loc"] == ("rating",)
    error = refusal(FeedbackIn, rating="down", reason="too_long")
    assert error["loc"] == ("reason",) and all(r in error["msg"] for r in FEEDBACK_REASONS)
    assert "down" in refusal(FeedbackIn, rating="up", reason="other")["msg"]


def test_the_schema_says_a_reason_goes_with_down_only():
    schema = FeedbackIn.model_json_schema()
    jsonschema.validate({"rating": "down", "reason": "other"}, schema)
    jsonschema.validate({"rating": "up"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"rating": "up", "reason": "other"}, schema)


# --- responses: what the API returns passes its model whole ------------------------------

def rich_answer(**changes) -> Answer:
    """An answer using every field: a marked span, highlights, a label, a scope, a note."""
    src = Source(n=1, path="/docs/ü ber.pdf", page=4, start=10, end=40,
                 text="Anna Lindqvist wrote it in 1921.", score=0.83, label="iv",
                 highlights=((10, 40), (12, 20)))
    return Answer(**{**dict(
        question="Wer schrieb es?", answer="Anna Lindqvist wrote it in 1921. [1]",
        abstained=False,
        sentences=(Sentence("Anna Lindqvist wrote it in 1921.", (1,), True,
                            AnswerSpan("Anna Lindqvist", 1, 10, 24)),
                   Sentence("Unsupported.", (), False)),
        sources=(src,), engine="extractive", evidence=0.71, seconds=0.25,
        notes=("checked",), confidence=0.93, scope=("/docs/ü ber.pdf",)), **changes})


ANSWERS = [rich_answer(),
           rich_answer(abstained=True, answer="The documents do not contain an answer.",
                       sentences=(), abstention=Abstention.NO_EVIDENCE, confidence=None,
                       scope=())]


@pytest.mark.parametrize("answer", ANSWERS, ids=["answered", "abstained"])
def test_an_answer_passes_the_response_model_whole_and_loads_back(answer):
    sent = answer.to_dict()
    wire = AnswerOut.model_validate(sent).model_dump(mode="json")
    assert wire == sent  # every field kept, none renamed or added
    assert Answer.from_dict(wire) == answer
    ask = AskOut.model_validate({**sent, "conversation_id": "c1", "turn": 3})
    assert (ask.conversation_id, ask.turn) == ("c1", 3)
    assert AskOut.model_validate(sent).conversation_id is None  # no conversation named


@pytest.mark.parametrize("reason", list(Abstention))
def test_every_abstention_reason_is_in_the_answers_description(reason):
    assert reason.value in AnswerOut.model_fields["abstention"].description
    assert AnswerOut.model_validate(
        rich_answer(abstained=True, abstention=reason).to_dict()).abstention == reason.value


def test_a_conversation_with_its_turns_and_feedback_passes_its_model_whole():
    conv = Conversation("c1", "Wer?", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 2)
    turns = [Turn("Wer?", ANSWERS[0], Feedback("down", "wrong_source", "nö", "2026-01-03")),
             Turn("Und?", ANSWERS[1])]
    sent = conversation_dict(conv, turns)
    wire = ConversationTurnsOut.model_validate(sent).model_dump(mode="json")
    assert wire == sent
    assert [Answer.from_dict(t["answer"]) for t in wire["turns"]] == ANSWERS
    assert ConversationOut.model_validate(asdict(conv)).model_dump() == asdict(conv)


def test_a_rating_as_the_store_gives_it_passes_its_model_whole():
    for given in (Feedback("up", None, "", "2026-01-01T00:00:00Z"),
                  Feedback("down", "missed_answer", "it is on page 4", "2026-01-01")):
        assert FeedbackOut.model_validate(given.to_dict()).model_dump() == given.to_dict()
        rated = {"conversation_id": "c1", "turn": 1, "feedback": given.to_dict()}
        assert RatedOut.model_validate(rated).model_dump() == rated


@pytest.mark.parametrize("status", list(DocumentStatus))
def test_a_document_passes_its_model_whole_in_every_status(status):
    doc = Document("abc", "/docs/a.pdf", "a.pdf", "pdf", 3, 12, 4096, "2026-01-01T00:00:00Z",
                   status, "" if status == DocumentStatus.INDEXED else "why")
    assert DocumentOut.model_validate(doc.to_dict()).model_dump() == doc.to_dict()


def test_an_unknown_document_status_is_refused():
    doc = {**Document("abc", "/docs/a", "a", "").to_dict(), "status": "lost"}
    with pytest.raises(ValidationError) as refused:
        DocumentOut.model_validate(doc)
    assert refused.value.errors()[0]["loc"] == ("status",)


def test_an_update_summary_and_a_status_pass_their_models_whole():
    summary = UpdateSummary(added=("/d/a",), updated=("/d/b",), removed=("/d/c",),
                            unchanged=("/d/e",), skipped=(Skipped("/d/f", "no text"),),
                            chunks=9, embedded=4, full_rebuild=True, reason="model changed",
                            seconds=1.5)
    assert SummaryOut.model_validate(summary.to_dict()).model_dump() == summary.to_dict()
    status = {**Status(True, 2, 9, "minilm", 384, "2026-01-01", ("/d",),
                       (Skipped("/d/f", "no text"),)).to_dict(),
              "documents": "/d/uploads", "engine": "extractive", "ready": True}
    assert StatusOut.model_validate(status).model_dump() == status
