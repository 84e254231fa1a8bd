"""The MCP server's tools (ui/mcp_tools.py), called in-process through the server's own
call_tool (so arguments are checked against each tool's schema as a client's would be) over a
small index built with the text-hash embedder, with the trained models off: what each tool
returns for good arguments, and the one-line tool error or the refusal for bad ones. The
whole protocol with the official client, over stdio and HTTP: tests/ui/test_mcp.py."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from fakes import HashEmbedder
from mcp.server.mcpserver.exceptions import ToolError

from rag.errors import DocchatError
from rag.index import Index
from rag.settings import Settings
from rag.types import Hit, document_id
from ui.admission import Admission
from ui.mcp_tools import MAX_K, MAX_SCOPE, build_server

FALCON = ("The peregrine falcon nests in the old quarry. It was first seen there in 1921 by "
          "Anna Lindqvist.\n")
BREAD = "Sourdough bread rises slowly overnight. The baker uses rye flour.\n"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Two indexed notes and a corrupt PDF the index skipped; no trained model runs."""
    work = tmp_path_factory.mktemp("mcp_tools")
    docs = work / "docs"
    docs.mkdir()
    (docs / "falcon.txt").write_text(FALCON, encoding="utf-8")
    (docs / "bröd.txt").write_text(BREAD, encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"not a pdf")
    settings = Settings(index_dir=str(work / "index"), checker_threshold=0.0,
                        reader_threshold=0.0, answerable_threshold=0.0,
                        entailment_threshold=0.0, max_question_chars=300)
    index = Index(work / "index", settings, embedder=HashEmbedder())
    index.update([docs])
    return SimpleNamespace(index=index, settings=settings, docs=docs,
                           server=build_server(index, settings))


def call(server, name: str, **arguments):
    return asyncio.run(server.call_tool(name, arguments))


def ok(server, name: str, **arguments) -> dict:
    result = call(server, name, **arguments)
    assert not result.is_error, result.content
    return result.structured_content


def tool_error(server, name: str, **arguments) -> str:
    """The text of the tool error (a docchat error): one line, no traceback."""
    result = call(server, name, **arguments)
    assert result.is_error and result.structured_content is None
    (content,) = result.content
    assert "\n" not in content.text and "Traceback" not in content.text
    return content.text


def refused(server, name: str, **arguments) -> str:
    """The arguments do not fit the tool's schema: refused before the tool runs."""
    with pytest.raises(ToolError) as error:
        call(server, name, **arguments)
    return str(error.value)


def by_name(library, name: str) -> dict:
    return next(d for d in ok(library.server, "list_documents")["documents"]
                if d["name"] == name)


# --- the tools as listed -----------------------------------------------------------------

def test_five_read_only_tools_in_a_fixed_order_with_output_schemas(library):
    tools = asyncio.run(library.server.list_tools())
    assert [t.name for t in tools] == ["search", "ask", "summarise", "list_documents", "fetch"]
    for t in tools:
        assert t.annotations.read_only_hint and not t.annotations.destructive_hint
        assert t.annotations.idempotent_hint and not t.annotations.open_world_hint
        assert t.output_schema["type"] == "object" and t.description and t.title


def test_the_question_limit_in_the_schemas_is_this_servers_setting(library):
    tools = {t.name: t for t in asyncio.run(library.server.list_tools())}
    assert tools["ask"].input_schema["properties"]["question"]["maxLength"] == 300
    assert tools["search"].input_schema["properties"]["query"]["maxLength"] == 300
    other = build_server(library.index, library.settings.replace(max_question_chars=77))
    tools = {t.name: t for t in asyncio.run(other.list_tools())}
    assert tools["ask"].input_schema["properties"]["question"]["maxLength"] == 77


# --- list_documents and fetch ------------------------------------------------------------

def test_list_documents_gives_indexed_and_skipped_files_with_their_ids(library):
    docs = {d["name"]: d for d in ok(library.server, "list_documents")["documents"]}
    assert set(docs) == {"falcon.txt", "bröd.txt", "broken.pdf"}
    for name, d in docs.items():
        assert d["id"] == document_id(str(library.docs / name))
    assert docs["falcon.txt"]["status"] == "indexed" and docs["falcon.txt"]["pages"] == 1
    broken = docs["broken.pdf"]
    assert broken["status"] == "skipped" and "PDF" in broken["reason"]
    assert broken["chunks"] == 0 and broken["indexed_at"] == ""


def test_fetch_a_document_gives_its_text_page_by_page(library):
    doc = by_name(library, "bröd.txt")
    fetched = ok(library.server, "fetch", id=f"  {doc['id']}\n")  # pasted with white space
    assert fetched["kind"] == "document" and fetched["document_id"] == doc["id"]
    assert fetched["name"] == "bröd.txt" and fetched["path"] == doc["path"]
    assert [p["page"] for p in fetched["pages"]] == [1]
    assert fetched["text"].strip() == BREAD.strip()


def test_fetching_a_skipped_document_says_it_is_not_indexed_and_why(library):
    text = tool_error(library.server, "fetch", id=by_name(library, "broken.pdf")["id"])
    assert text.startswith("broken.pdf is not indexed (skipped: ") and "PDF" in text


@pytest.mark.parametrize("key, words", [
    ("0123456789abcdef", "no document with id '0123456789abcdef'"),
    ("/etc/passwd", "no document with id '/etc/passwd'"),  # never read as a path
    ("chunk:999999", "no passage with id 'chunk:999999'"),
    ("chunk:" + "9" * 18, "no passage with id 'chunk:" + "9" * 18),
    ("chunk:" + "9" * 19, "no document with id 'chunk:" + "9" * 19),  # not a passage id
    ("chunk:-1", "no document with id 'chunk:-1'"),
])
def test_an_unknown_id_is_a_one_line_tool_error_naming_it(library, key, words):
    assert words in tool_error(library.server, "fetch", id=key)


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_an_empty_or_overlong_id_is_refused_by_the_schema(library, key):
    assert "id" in refused(library.server, "fetch", id=key)


# --- search --------------------------------------------------------------------------------

def test_search_passages_are_spans_of_their_page_text_and_fetchable_by_id(library):
    passages = ok(library.server, "search", query="falcon quarry", k=5)["passages"]
    assert {p["name"] for p in passages} == {"falcon.txt", "bröd.txt"}
    for p in passages:
        assert p["text"] == library.index.page_text(p["path"], p["page"])[p["start"]:p["end"]]
        assert p["document_id"] == document_id(p["path"])
        passage = ok(library.server, "fetch", id=p["id"])
        assert passage["kind"] == "passage" and passage["pages"] == []
        assert (passage["text"], passage["start"], passage["end"], passage["document_id"]) == \
            (p["text"], p["start"], p["end"], p["document_id"])


def test_search_returns_at_most_k_passages(library):
    assert len(ok(library.server, "search", query="falcon", k=1)["passages"]) == 1
    assert len(ok(library.server, "search", query="falcon")["passages"]) == 2  # default 5


def test_search_within_one_document_by_id_or_path(library):
    doc = by_name(library, "falcon.txt")
    for scope in (doc["id"], doc["path"]):
        passages = ok(library.server, "search", query="bread", documents=[scope])["passages"]
        assert passages and {p["name"] for p in passages} == {"falcon.txt"}


@pytest.mark.parametrize("arguments, field", [
    ({"query": ""}, "query"), ({"query": "q" * 301}, "query"),
    ({"query": "q", "k": 0}, "k"), ({"query": "q", "k": MAX_K + 1}, "k"),
    ({"query": "q", "documents": ["a"] * (MAX_SCOPE + 1)}, "documents"),
])
def test_search_arguments_out_of_bounds_are_refused_naming_them(library, arguments, field):
    assert field in refused(library.server, "search", **arguments)


@pytest.mark.parametrize("query", [" ", "\n\t ", "\u3000", "\x1c"], ids=repr)
def test_a_blank_query_is_refused_not_answered_with_arbitrary_passages(library, query):
    """As POST /api/search refuses it: nothing in a blank query can match a passage."""
    assert "query" in refused(library.server, "search", query=query)


def test_an_unknown_or_empty_scope_is_a_tool_error_that_says_which(library):
    assert "'no-such-doc'" in tool_error(library.server, "search", query="falcon",
                                         documents=["no-such-doc"])
    assert "names no document" in tool_error(library.server, "ask", question="Who?",
                                             documents=[])
    assert "'/nowhere/else'" in tool_error(library.server, "search", query="falcon",
                                           documents=["/nowhere/else"])


# --- ask and summarise ---------------------------------------------------------------------

def test_ask_answers_with_sources_the_sentences_cite(library):
    a = ok(library.server, "ask", question="Who first saw the falcon?")
    assert not a["abstained"] and a["abstention"] is None and a["scope"] == []
    assert a["sentences"] and a["engine"] == "extractive"
    numbers = [s["n"] for s in a["sources"]]
    assert numbers == list(range(1, len(numbers) + 1))
    for s in a["sentences"]:
        for n in s["citations"]:
            assert s["text"] in a["sources"][n - 1]["text"]
    for src in a["sources"]:
        assert src["document_id"] == document_id(src["path"])
        assert src["name"] == src["path"].rsplit("/", 1)[-1]
        for start, end in src["highlights"]:
            assert src["start"] <= start < end <= src["end"]


def test_an_abstention_says_why_and_asserts_nothing(library):
    a = ok(library.server, "ask", question="What is the capital of Peru?")
    assert a["abstained"] and a["abstention"] in {"no_evidence", "engine_found_none"}
    assert all(not s["citations"] for s in a["sentences"])


def test_ask_within_a_document_names_it_in_the_scope(library):
    doc = by_name(library, "bröd.txt")
    a = ok(library.server, "ask", question="What flour?", documents=[doc["id"]])
    assert a["scope"] == [doc["path"]]
    assert {s["name"] for s in a["sources"]} == {"bröd.txt"}


def test_a_question_over_this_servers_limit_is_refused_naming_the_limit(library):
    assert "300" in refused(library.server, "ask", question="q" * 301)
    assert not call(library.server, "ask", question="q" * 300).is_error


def test_summarise_gives_sentences_verbatim_in_the_document(library):
    doc = by_name(library, "falcon.txt")
    s = ok(library.server, "summarise", documents=[doc["id"]], sentences=1)
    assert s["engine"] == "extractive-summary" and s["scope"] == [doc["path"]]
    assert len(s["sentences"]) == 1 and s["sentences"][0]["text"] in FALCON
    both = ok(library.server, "summarise", documents=[doc["id"]])
    assert [x["text"] for x in both["sentences"]] == [
        "The peregrine falcon nests in the old quarry.",
        "It was first seen there in 1921 by Anna Lindqvist."]  # in document order


@pytest.mark.parametrize("arguments", [{"documents": []}, {"documents": ["x"], "sentences": 0},
                                       {"documents": ["x"], "sentences": 21}, {}])
def test_summarise_needs_1_to_20_sentences_of_named_documents(library, arguments):
    refused(library.server, "summarise", **arguments)


def test_summarising_an_unknown_document_is_a_tool_error_naming_it(library):
    assert "'nope'" in tool_error(library.server, "summarise", documents=["nope"])


# --- what the tools run on: a service, a getter, errors ------------------------------------

def test_a_getter_is_called_for_each_request_so_a_renewed_index_is_used(library, tmp_path):
    empty = Index(tmp_path / "index", library.settings.replace(index_dir=str(tmp_path)),
                  embedder=HashEmbedder())
    current = [library.index]
    server = build_server(lambda: current[0], library.settings)
    assert len(ok(server, "list_documents")["documents"]) == 3
    current[0] = empty
    assert ok(server, "list_documents")["documents"] == []


def test_questions_wait_for_the_services_admission_and_busy_is_a_tool_error(library):
    full = SimpleNamespace(index=library.index, admission=Admission(slots=0, queue=0))
    server = build_server(full, library.settings)
    for name, arguments in (("search", {"query": "falcon"}), ("ask", {"question": "Who?"}),
                            ("summarise", {"documents": ["x"]})):
        assert "try again" in tool_error(server, name, **arguments)
    # reading the library or a document is no question: it does not wait
    assert len(ok(server, "list_documents")["documents"]) == 3
    ok(server, "fetch", id=by_name(library, "falcon.txt")["id"])


class FakeIndex:
    """An index whose search gives one hit at a Windows path, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def search(self, query, k, documents=None):
        if self.error:
            raise self.error
        return [Hit(7, r"C:\Users\ann\Docs\report.pdf", 2, 3, 9, "passage", 0.5, label="ii")]


def test_a_windows_path_gives_the_files_name(library):
    [p] = ok(build_server(FakeIndex(), library.settings), "search", query="q")["passages"]
    assert (p["name"], p["id"], p["page_label"]) == ("report.pdf", "chunk:7", "ii")


def test_a_docchat_error_on_several_lines_is_one_line_and_a_crash_is_not_hidden(library):
    server = build_server(FakeIndex(DocchatError("index is\n  being rebuilt;\ttry later")),
                          library.settings)
    assert tool_error(server, "search", query="q") == "index is being rebuilt; try later"
    blank = build_server(FakeIndex(DocchatError("")), library.settings)
    assert tool_error(blank, "search", query="q") == "DocchatError"
    crash = build_server(FakeIndex(RuntimeError("bug")), library.settings)
    with pytest.raises(Exception) as error:  # not dressed up as a docchat message
        call(crash, "search", query="q")
    assert "bug" in str(error.value) or "bug" in str(error.value.__cause__)
