"""The MCP tools' results (ui/mcp_models.py): their JSON schemas are valid object schemas (a
client checks results against them), name every reason an answer can abstain for, and agree
with the models; a result that does not fit is refused with the field and the reason."""
from __future__ import annotations

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from rag.types import Abstention
from ui import mcp_models
from ui.mcp_models import AnswerOut, Fetched, Library, Passage, SearchResult, SourceOut

MODELS = [m for m in vars(mcp_models).values()
          if isinstance(m, type) and issubclass(m, BaseModel) and m is not BaseModel]

PASSAGE = dict(id="chunk:7", document_id="d1", path="/docs/a.txt", name="a.txt", page=1,
               page_label="", start=0, end=5, text="Hello", score=0.5)
SOURCE = dict(n=1, document_id="d1", path="/docs/a.txt", name="a.txt", page=1, page_label="",
              start=0, end=5, text="Hello", score=0.5, highlights=[(0, 5)])
ANSWER = dict(question="Who?", answer="Anna [1].", abstained=False, notes=[],
              sentences=[dict(text="Anna [1].", citations=[1], supported=True,
                              answer=dict(text="Anna", source=1, start=0, end=4))],
              sources=[SOURCE], engine="extractive", confidence=0.9)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_result_schema_is_a_valid_object_schema(model):
    schema = model.model_json_schema()
    assert schema["type"] == "object"  # MCP requires an object as a tool's outputSchema
    jsonschema.Draft202012Validator.check_schema(schema)


def test_an_abstention_is_one_of_the_reasons_docchat_gives_or_null():
    schema = AnswerOut.model_json_schema()
    allowed = schema["properties"]["abstention"]["anyOf"]
    assert {"type": "null"} in allowed
    (enum,) = [a["enum"] for a in allowed if "enum" in a]
    assert sorted(enum) == sorted(a.value for a in Abstention)
    for reason in Abstention:  # each explained to the client in words
        assert reason.value in schema["properties"]["abstention"]["description"]


def test_a_valid_answer_round_trips_and_matches_its_schema():
    for reason in [None, *Abstention]:
        answer = AnswerOut(**{**ANSWER, "abstained": reason is not None, "abstention": reason})
        dumped = answer.model_dump(mode="json")
        jsonschema.validate(dumped, AnswerOut.model_json_schema())
        assert AnswerOut.model_validate_json(answer.model_dump_json()) == answer
        assert dumped["abstention"] == (reason.value if reason else None)


def test_an_unknown_abstention_is_refused_naming_the_field_and_what_is_allowed():
    with pytest.raises(ValidationError) as refused:
        AnswerOut(**{**ANSWER, "abstained": True, "abstention": "felt_like_it"})
    (error,) = refused.value.errors()
    assert error["loc"] == ("abstention",) and error["type"] == "literal_error"
    assert all(a.value in error["msg"] for a in Abstention)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ANSWER, "abstention": "felt_like_it"},
                            AnswerOut.model_json_schema())


@pytest.mark.parametrize("model,data,loc,kind", [
    (Passage, {**PASSAGE, "page": "two"}, ("page",), "int_parsing"),
    (Passage, {k: v for k, v in PASSAGE.items() if k != "text"}, ("text",), "missing"),
    (SearchResult, {"passages": [{**PASSAGE, "score": "high"}]}, ("passages", 0, "score"),
     "float_parsing"),
    (Fetched, dict(id="x", kind="chunk", document_id="d", path="p", name="n", text="t",
                   pages=[]), ("kind",), "literal_error"),
    (SourceOut, {**SOURCE, "highlights": [(0, 5, 9)]}, ("highlights", 0), "too_long"),
    (Library, {"documents": [{"id": "d"}]}, ("documents", 0, "path"), "missing"),
])
def test_a_result_that_does_not_fit_is_refused_with_the_field_and_the_reason(model, data, loc,
                                                                             kind):
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    errors = {(e["loc"], e["type"]) for e in refused.value.errors()}
    assert (loc, kind) in errors, errors


def test_defaults_are_fresh_for_each_result():
    one, two = AnswerOut(**ANSWER), AnswerOut(**ANSWER)
    one.scope.append("/docs/a.txt")
    assert two.scope == [] and AnswerOut(**ANSWER).abstention is None
    fetched = Fetched(id="d1", kind="document", document_id="d1", path="p", name="n", text="t",
                      pages=[])
    assert (fetched.page, fetched.start, fetched.end, fetched.page_label) == (None, None, None, "")
