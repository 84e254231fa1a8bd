"""POST /api/ask and POST /api/search (ui/api/ask.py) on a real `docchat serve` process,
called with plain HTTP (httpx) and, for half of the concurrent clients, the gradio_client."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rag.types import CANNOT_ANSWER

from .conftest import api_server
from .helpers import ask, assert_cited, upload

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own: the scoped question below adds two documents, and
    tests/ui/api/test_documents.py counts the shared server's files from the seed on."""
    with api_server(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[0]


def test_ask_answers_with_a_verified_citation(base):
    a = ask(base, "How many people died in the attack?")
    assert not a["abstained"] and "133" in a["answer"]
    assert_cited(a)
    cited = a["sources"][a["sentences"][0]["citations"][0] - 1]
    assert cited["path"].endswith("crocus-city-hall-attack.txt") and cited["page"] == 1
    assert cited["end"] > cited["start"] and "133" in cited["text"]


def test_off_topic_question_abstains_and_lists_closest_passages(base):
    a = ask(base, "What is the boiling point of water?")
    assert a["abstained"] and a["answer"] == CANNOT_ANSWER and a["sources"]


@pytest.mark.parametrize("body, status, words", [
    # refused by the schema itself (minLength, pattern, maxLength), so by FastAPI: 422
    ({"question": ""}, 422, "at least 1 character"),
    ({"question": " \t\n\x1c "}, 422, "should match pattern"),
    ({"question": "x " * 50_000}, 422, "at most 2000 characters"),
    ({}, 422, "question"),
    ({"question": "How many died?", "engine": "gpt-17"}, 422, "engine"),
    ({"question": "How many died?", "k": 0}, 422, "k"),
    ({"question": "How many died?", "history": "yes"}, 422, "history"),
    # nothing listens on the default OpenAI-compatible URL here: a clear 424, not a hang
    ({"question": "How many people died in the attack?", "engine": "openai"}, 424,
     "cannot reach"),
])
def test_bad_requests_get_a_4xx_with_an_explanation(base, body, status, words):
    r = httpx.post(f"{base}/api/ask", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"]).lower()


def test_openapi_schema_has_typed_answers_and_errors_and_no_login_when_none_is_set(base):
    schema = httpx.get(f"{base}/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/ask", "/api/documents", "/api/documents/{doc_id}",
            "/api/documents/{doc_id}/file", "/api/status"} <= set(paths)
    ask_op = paths["/api/ask"]["post"]["responses"]
    # AskOut: AnswerOut and, for a question asked in a stored conversation, its id and turn
    assert ask_op["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskOut")
    assert {"conversation_id", "turn", "answer", "sources"} <= set(
        schema["components"]["schemas"]["AskOut"]["properties"])
    assert {"400", "409", "422", "424"} <= set(ask_op)
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"]) == (1, 2000)  # as the server checks
    answer = schema["components"]["schemas"]["AnswerOut"]["properties"]
    assert {"answer", "abstained", "sentences", "sources"} <= set(answer)
    assert "securitySchemes" not in schema.get("components", {})
    assert "401" not in ask_op


QUESTIONS = {
    "How many people died in the attack?": "133",
    "Which earlier attacks in Russia are mentioned?": "Beslan",
    "Where were the gunmen trying to flee to?": "Ukraine",
    "Which group were the attackers affiliated with?": "Islamic State",
}


def test_twenty_concurrent_clients_all_get_correct_answers(base):
    from gradio_client import Client

    client = Client(base, verbose=False, download_files=False)
    jobs = [(q, i % 2) for i in range(5) for q in QUESTIONS]  # 20: half HTTP, half gradio

    def run(job):
        q, via_gradio = job
        if via_gradio:
            return q, client.predict(question=q, api_name="/ask")
        return q, ask(base, q)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(run, jobs))
    assert len(results) == 20
    for q, a in results:
        assert QUESTIONS[q] in a["answer"], (q, a["answer"])
        assert_cited(a)


def test_a_question_scoped_to_one_document_answers_from_it(server):
    """Issue 21: two reports on one subject; each scope answers from its own report."""
    base = server[0]
    for year, workers in (("2023", "412"), ("2024", "388")):
        r = upload(base, f"mill-{year}.md", (f"# Mill report {year}\n\nIn {year} the Vantor "
                                             f"paper mill employed {workers} workers.\n").encode())
        assert r.status_code == 200, r.text
    docs = {d["name"]: d["id"] for d in httpx.get(f"{base}/api/documents").json()}
    q = "How many workers did the Vantor paper mill employ?"
    for name, number, other in (("mill-2023.md", "412", "388"), ("mill-2024.md", "388", "412")):
        a = ask(base, q, documents=[docs[name]])
        assert not a["abstained"] and number in a["answer"] and other not in a["answer"]
        assert {Path(s["path"]).name for s in a["sources"]} == {name}
        assert [Path(p).name for p in a["scope"]] == [name]
        hits = httpx.post(f"{base}/api/search", json={"query": q, "k": 5,
                                                      "documents": [docs[name]]}).json()
        assert hits and {h["document"] for h in hits} == {docs[name]}
    everything = httpx.post(f"{base}/api/search", json={"query": q, "k": 5}).json()
    assert {h["document"] for h in everything} >= {docs["mill-2023.md"], docs["mill-2024.md"]}
    assert ask(base, q)["scope"] == []


def test_an_unknown_or_empty_scope_is_a_4xx_with_a_reason(base):
    q = {"question": "How many people died in the attack?"}
    r = httpx.post(f"{base}/api/ask", json={**q, "documents": ["0000000000000000"]}, timeout=60)
    assert r.status_code == 404 and "no indexed document" in r.json()["detail"]
    r = httpx.post(f"{base}/api/ask", json={**q, "documents": []}, timeout=60)
    assert r.status_code == 422
    r = httpx.post(f"{base}/api/search", json={"query": "x", "documents": ["/etc/passwd"]})
    assert r.status_code == 404
