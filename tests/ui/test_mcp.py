"""docchat's MCP server (ui/mcp_tools.py), driven by the official MCP SDK's own client as an
agent would: over stdio against a real `python -m rag mcp` process, and over streamable HTTP
against a real `docchat serve --auth` (at /mcp, behind the same login as the API).

Each transport is exercised in one client session (a module fixture that records what the
server answered); the tests then check those answers, so the model loads once per process."""
from __future__ import annotations

import asyncio
import sys

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, clean_env, docchat
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TOOLS = {"search", "ask", "list_documents", "fetch", "summarise"}
QUESTION = "How many people died in the attack?"
LOGIN = ("mcp-user", "pass word é")  # a space and a non-ASCII character, as the API allows
SEED = ROOT / "seeds" / "crocus-city-hall-attack.txt"


async def session(client: Client) -> dict:
    """Everything the tests check, asked in one session."""
    async with client as c:
        out: dict = {"tools": {t.name: t for t in (await c.list_tools()).tools}}
        out["library"] = await c.call_tool("list_documents", {})
        doc_id = out["library"].structured_content["documents"][0]["id"]
        out["document"] = await c.call_tool("fetch", {"id": doc_id})
        out["search"] = await c.call_tool("search", {"query": "people died", "k": 3})
        first = out["search"].structured_content["passages"][0]["id"]
        out["passage"] = await c.call_tool("fetch", {"id": first})
        out["ask"] = await c.call_tool("ask", {"question": QUESTION})
        out["unknown_fetch"] = await c.call_tool("fetch", {"id": "0123456789abcdef"})
        out["unknown_passage"] = await c.call_tool("fetch", {"id": "chunk:999999"})
        out["outside"] = await c.call_tool("fetch", {"id": "/etc/passwd"})
        out["scoped"] = await c.call_tool("ask", {"question": QUESTION,
                                                  "documents": [str(SEED.parent)]})
        out["scoped_search"] = await c.call_tool("search", {"query": "people died",
                                                            "documents": [doc_id]})
        out["unknown_scope"] = await c.call_tool("search", {"query": "people died",
                                                            "documents": ["no-such-doc"]})
        out["empty_scope"] = await c.call_tool("ask", {"question": QUESTION, "documents": []})
        out["summary"] = await c.call_tool("summarise", {"documents": [doc_id], "sentences": 3})
        return out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """An index of the seed article, shared by the stdio process and the served one."""
    work = tmp_path_factory.mktemp("mcp")
    r = docchat("index", "--index", work / "index", ROOT / "seeds")
    assert r.returncode == 0, r.stderr
    return work


@pytest.fixture(scope="module")
def stdio(work) -> dict:
    params = StdioServerParameters(command=sys.executable, cwd=ROOT, env=clean_env(),
                                   args=["-m", "rag", "mcp", "--index", str(work / "index")])
    return asyncio.run(session(Client(params, read_timeout_seconds=180)))


def ping(url: str, auth: tuple[str, str] | None) -> httpx.Response:
    """A bare MCP request (JSON-RPC ping), as a client without the SDK sends it."""
    return httpx.post(url, auth=auth, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                      headers={"accept": "application/json, text/event-stream"})


@pytest.fixture(scope="module")
def http(work):
    """A served docchat with a login: what /mcp answers without it, and a session with it
    (at /mcp, without the slash: both work)."""
    with running_server(work, "--auth", ":".join(LOGIN), auth=LOGIN) as (base, _):
        refused = {(url, auth): ping(url, auth) for url in (f"{base}/mcp/", f"{base}/mcp")
                   for auth in (None, (LOGIN[0], "wrong"))}
        allowed = ping(f"{base}/mcp/", LOGIN)

        async def logged_in() -> dict:
            async with httpx2.AsyncClient(auth=httpx2.BasicAuth(*LOGIN),
                                          timeout=httpx2.Timeout(30, read=180)) as client:
                return await session(Client(streamable_http_client(f"{base}/mcp",
                                                                   http_client=client)))
        yield {"refused": refused, "allowed": allowed, **asyncio.run(logged_in())}


@pytest.fixture(scope="module", params=["stdio", "http"])
def answers(request) -> dict:
    return request.getfixturevalue(request.param)


def one_line_error(result, *words: str) -> str:
    assert result.is_error and result.structured_content is None
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text and all(w in text for w in words), text
    return text


def test_summarise_gives_cited_sentences_verbatim_in_their_sources(answers):
    result = answers["summary"]
    assert not result.is_error
    s = result.structured_content
    assert len(s["sentences"]) == 3 and s["engine"] == "extractive-summary"
    for x in s["sentences"]:
        assert x["text"] in s["sources"][x["citations"][0] - 1]["text"]


def test_the_tools_are_listed_read_only_with_an_output_schema(answers):
    tools = answers["tools"]
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.description
    assert set(tools["search"].input_schema["properties"]) == {"query", "k", "documents"}
    assert set(tools["ask"].input_schema["properties"]) == {"question", "documents"}
    assert set(tools["fetch"].input_schema["required"]) == {"id"}


def test_ask_answers_with_a_verified_citation(answers):
    result = answers["ask"]
    assert not result.is_error
    a = result.structured_content
    assert not a["abstained"] and a["abstention"] is None and "133" in a["answer"]
    sentence = next(s for s in a["sentences"] if "133" in s["text"])
    assert sentence["citations"] and sentence["supported"]
    source = a["sources"][sentence["citations"][0] - 1]
    assert source["n"] == sentence["citations"][0]
    assert sentence["text"] in source["text"]  # the cited sentence, verbatim in its source
    assert source["name"] == SEED.name and source["page"] == 1
    assert source["end"] > source["start"]
    assert sentence["answer"]["text"] == "133"


def test_list_documents_is_the_library(answers):
    [doc] = answers["library"].structured_content["documents"]
    assert doc["name"] == SEED.name and doc["type"] == "txt" and doc["status"] == "indexed"
    assert doc["pages"] == 1 and doc["chunks"] >= 1 and doc["reason"] == ""


def test_fetch_returns_a_documents_pages(answers):
    doc = answers["library"].structured_content["documents"][0]
    fetched = answers["document"].structured_content
    assert fetched["kind"] == "document" and fetched["document_id"] == doc["id"]
    assert [p["page"] for p in fetched["pages"]] == list(range(1, doc["pages"] + 1))
    assert fetched["pages"][0]["text"].strip() == SEED.read_text(encoding="utf-8").strip()
    assert fetched["text"] == "\n\n".join(p["text"] for p in fetched["pages"])


def test_search_passages_are_spans_of_their_page_text(answers):
    pages = {p["page"]: p["text"] for p in answers["document"].structured_content["pages"]}
    passages = answers["search"].structured_content["passages"]
    assert 1 <= len(passages) <= 3 and any("133" in p["text"] for p in passages)
    for p in passages:
        assert p["text"] == pages[p["page"]][p["start"]:p["end"]] and p["text"]
        assert p["name"] == SEED.name and p["id"].startswith("chunk:")
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages),
                                                    reverse=True)
    passage = answers["passage"].structured_content  # fetch of the first passage's id
    first = passages[0]
    assert passage["kind"] == "passage" and passage["pages"] == []
    assert (passage["text"], passage["page"], passage["start"], passage["end"]) == \
        (first["text"], first["page"], first["start"], first["end"])


def test_unknown_ids_are_one_line_tool_errors(answers):
    one_line_error(answers["unknown_fetch"], "no document with id '0123456789abcdef'")
    one_line_error(answers["unknown_passage"], "no passage with id 'chunk:999999'")
    one_line_error(answers["outside"], "no document with id '/etc/passwd'")  # not a path


def test_search_and_ask_scoped_to_documents(answers):
    scoped = answers["scoped"].structured_content  # ask within the seeds folder
    assert not scoped["abstained"] and "133" in scoped["answer"]
    assert scoped["scope"] == [str(SEED)]
    assert answers["ask"].structured_content["scope"] == []  # unscoped: every document
    passages = answers["scoped_search"].structured_content["passages"]  # by document id
    assert passages and {p["path"] for p in passages} == {str(SEED)}
    one_line_error(answers["unknown_scope"], "no indexed document is 'no-such-doc'")
    one_line_error(answers["empty_scope"], "names no document")


def test_http_mcp_requires_the_login(http):
    for (url, auth), r in http["refused"].items():
        assert r.status_code == 401, (url, auth, r.text)
        assert r.headers["www-authenticate"] == "Basic"
        assert r.json() == {"detail": "login required"}
    ok = http["allowed"]  # with the login, at /mcp/ (the session above used /mcp)
    assert ok.status_code == 200 and ok.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
