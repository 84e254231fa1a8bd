"""Conversations, their export and feedback on answers through the HTTP API of a real
`docchat serve` process (plain httpx, as a client program would), with and without a login."""
from __future__ import annotations

import json

import httpx
import pytest

from conftest import clean_env, docchat
from rag.types import Answer
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CREDS = ("anna", "s3cret-pass")
DIED = "How many people died in the attack?"
SEED = "crocus-city-hall-attack.txt"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("conv-api")
    with running_server(work, env={"DOCCHAT_WATCH_SECONDS": "0"}) as (base, _):
        yield base, work


@pytest.fixture(scope="module")
def base(served) -> str:
    return served[0]


def ask(base: str, question: str, auth=None, **extra) -> httpx.Response:
    return httpx.post(f"{base}/api/ask", json={"question": question, **extra}, auth=auth,
                      timeout=120)


def one_line(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    return detail


def test_ask_within_a_conversation_stores_the_turns_and_uses_them_as_history(base):
    r = httpx.post(f"{base}/api/conversations", json={})
    assert r.status_code == 201, r.text
    conv = r.json()
    assert conv["title"] == "New conversation" and conv["turns"] == 0
    first = ask(base, DIED, conversation_id=conv["id"])
    assert first.status_code == 200, first.text
    first = first.json()
    assert first["conversation_id"] == conv["id"] and first["turn"] == 1
    assert "133" in first["answer"] and not first["abstained"]
    # a follow-up: "they" is only understood through the stored first turn
    follow = ask(base, "Which group were they affiliated with?", conversation_id=conv["id"])
    assert follow.status_code == 200, follow.text
    assert follow.json()["turn"] == 2 and "Islamic State" in follow.json()["answer"]
    listed = {c["id"]: c for c in httpx.get(f"{base}/api/conversations").json()}
    assert listed[conv["id"]]["turns"] == 2 and listed[conv["id"]]["title"] == DIED
    got = httpx.get(f"{base}/api/conversations/{conv['id']}").json()
    assert [t["n"] for t in got["turns"]] == [1, 2]
    assert got["turns"][0]["question"] == DIED and got["turns"][0]["answer"] == {
        k: v for k, v in first.items() if k not in ("conversation_id", "turn")}
    assert all(t["feedback"] is None for t in got["turns"])
    # without a conversation, nothing is stored
    before = len(httpx.get(f"{base}/api/conversations").json())
    assert "conversation_id" in ask(base, DIED).json()
    assert len(httpx.get(f"{base}/api/conversations").json()) == before


def new_conversation(base: str, auth=None, title: str = "") -> str:
    r = httpx.post(f"{base}/api/conversations", json={"title": title}, auth=auth)
    assert r.status_code == 201, r.text
    conv = r.json()["id"]
    assert ask(base, DIED, auth=auth, conversation_id=conv).status_code == 200
    return conv


def test_feedback_is_validated_stored_and_shown(base):
    conv = new_conversation(base)
    url = f"{base}/api/conversations/{conv}/turns"
    r = httpx.post(f"{url}/1/feedback", json={"rating": "down", "reason": "wrong_source",
                                              "note": "It cites the wrong paragraph."})
    assert r.status_code == 200, r.text
    assert r.json()["turn"] == 1 and r.json()["feedback"]["reason"] == "wrong_source"
    shown = httpx.get(f"{base}/api/conversations/{conv}").json()["turns"][0]["feedback"]
    assert (shown["rating"], shown["reason"], shown["note"]) == \
        ("down", "wrong_source", "It cites the wrong paragraph.")
    r = httpx.post(f"{url}/1/feedback", json={"rating": "up"})  # replaces it
    assert r.status_code == 200
    shown = httpx.get(f"{base}/api/conversations/{conv}").json()["turns"][0]["feedback"]
    assert shown["rating"] == "up" and shown["reason"] is None
    for body in ({"rating": "up", "reason": "other"}, {"rating": "down", "reason": "meh"},
                 {"rating": "down", "note": "x" * 2001}, {"rating": "sideways"}, {}):
        assert httpx.post(f"{url}/1/feedback", json=body).status_code == 422, body
    for url_, body in ((f"{url}/1/feedback", '{"rating": "down", "note": "\\ud800"}'),
                       (f"{base}/api/conversations", '{"title": "x \\udfff"}')):
        r = httpx.post(url_, content=body.encode(), headers={"Content-Type":
                                                             "application/json"})
        assert r.status_code == 422, r.text
    assert httpx.post(f"{url}/0/feedback", json={"rating": "up"}).status_code == 422
    assert "no turn 2" in one_line(httpx.post(f"{url}/2/feedback", json={"rating": "up"}), 404)
    # taken back: the turn shows no rating; taking back again is fine; a missing turn is 404
    for _ in range(2):
        r = httpx.delete(f"{url}/1/feedback")
        assert r.status_code == 200 and r.json() == {"conversation_id": conv, "turn": 1,
                                                     "feedback": None}, r.text
    assert httpx.get(f"{base}/api/conversations/{conv}").json()["turns"][0]["feedback"] is None
    assert "no turn 2" in one_line(httpx.delete(f"{url}/2/feedback"), 404)


def test_unknown_conversations_are_404_in_one_line_and_both_histories_422(base):
    gone = "0123456789abcdef0123456789abcdef"
    for r in (httpx.get(f"{base}/api/conversations/{gone}"),
              httpx.delete(f"{base}/api/conversations/{gone}"),
              httpx.get(f"{base}/api/conversations/{gone}/export?format=json"),
              httpx.post(f"{base}/api/conversations/{gone}/turns/1/feedback",
                         json={"rating": "up"}),
              ask(base, DIED, conversation_id=gone)):
        assert gone in one_line(r, 404)
    conv = new_conversation(base)
    r = ask(base, DIED, conversation_id=conv, history=[["Who?", "Someone."]])
    assert r.status_code == 422 and "not both" in r.text
    assert ask(base, DIED, conversation_id=conv, history=[]).status_code == 200
    assert ask(base, DIED, conversation_id="../etc").status_code == 422
    assert httpx.get(f"{base}/api/conversations/{conv}/export?format=pdf").status_code == 422
    assert httpx.get(f"{base}/api/conversations/{conv}").json()["turns"][-1]["n"] == 2


def test_export_markdown_and_json_as_downloads(base):
    conv = new_conversation(base, title="Crocus: the toll")
    httpx.post(f"{base}/api/conversations/{conv}/turns/1/feedback",
               json={"rating": "down", "reason": "missed_answer", "note": "say 145 injured"})
    r = httpx.get(f"{base}/api/conversations/{conv}/export")  # Markdown by default
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert r.headers["content-disposition"] == \
        'attachment; filename="docchat-crocus-the-toll.md"'
    md = r.text
    assert md.startswith("# Crocus: the toll\n") and f"## 1. {DIED}" in md
    assert "133" in md and "[1]" in md and f"/{SEED}`, page 1" in md
    assert "*Rated down (missed answer): say 145 injured*" in md
    r = httpx.get(f"{base}/api/conversations/{conv}/export", params={"format": "json"})
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == \
        'attachment; filename="docchat-crocus-the-toll.json"'
    data = r.json()
    stored = httpx.get(f"{base}/api/conversations/{conv}").json()
    assert data["turns"] == stored["turns"]
    loaded = Answer.from_dict(data["turns"][0]["answer"])  # the round trip is lossless
    assert loaded.to_dict() == stored["turns"][0]["answer"] and "133" in loaded.answer
    assert any(s.path.endswith(SEED) for s in loaded.sources)


def test_delete_removes_the_conversation(base):
    conv = new_conversation(base)
    r = httpx.delete(f"{base}/api/conversations/{conv}")
    assert r.status_code == 200 and r.json()["deleted"]["id"] == conv
    assert r.json()["deleted"]["turns"] == 1
    assert conv not in {c["id"] for c in httpx.get(f"{base}/api/conversations").json()}
    one_line(httpx.get(f"{base}/api/conversations/{conv}"), 404)


def test_the_schema_declares_the_new_routes_and_their_404(base):
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    for path, method in [("/api/conversations", "get"), ("/api/conversations", "post"),
                         ("/api/conversations/{conv_id}", "get"),
                         ("/api/conversations/{conv_id}", "delete"),
                         ("/api/conversations/{conv_id}/export", "get"),
                         ("/api/conversations/{conv_id}/turns/{n}/feedback", "post")]:
        assert method in paths[path], (path, method)
        if "{conv_id}" in path:
            assert "404" in paths[path][method]["responses"]


def test_with_a_login_conversations_belong_to_the_login_user(tmp_path):
    with running_server(tmp_path, "--auth", ":".join(CREDS), auth=CREDS,
                        env={"DOCCHAT_WATCH_SECONDS": "0"}) as (base, _):
        conv = new_conversation(base, auth=CREDS)
        url = f"{base}/api/conversations/{conv}"
        # no login: 401 on every conversation route, nothing revealed
        for r in (httpx.get(f"{base}/api/conversations"),
                  httpx.post(f"{base}/api/conversations", json={}),
                  httpx.get(url), httpx.delete(url), httpx.get(f"{url}/export"),
                  httpx.post(f"{url}/turns/1/feedback", json={"rating": "up"}),
                  ask(base, DIED, conversation_id=conv),
                  httpx.get(url, auth=(CREDS[0], "wrong"))):
            assert r.status_code == 401, r.request.url
        assert [c["id"] for c in httpx.get(f"{base}/api/conversations", auth=CREDS).json()] \
            == [conv]
        assert httpx.post(f"{url}/turns/1/feedback", json={"rating": "down", "reason":
                          "should_abstain"}, auth=CREDS).status_code == 200
        assert httpx.get(f"{url}/export", auth=CREDS).status_code == 200
        one_line(httpx.get(f"{base}/api/conversations/{'f' * 32}", auth=CREDS), 404)
        # stored under the login's name: the command line sees it as Anna's, no one else's
        data = tmp_path / "data"
        listed = docchat("conversations", "list", "--data", data, "--json", env=clean_env())
        assert [(c["user"], c["id"]) for c in json.loads(listed.stdout)] == [("anna", conv)]
        assert json.loads(docchat("conversations", "list", "--data", data, "--json", "--user",
                                  "", env=clean_env()).stdout) == []
        cases = docchat("feedback", "export", "--data", data, "--user", "anna",
                        env=clean_env()).stdout.splitlines()
        assert [json.loads(c)["expected"] for c in cases] == ["abstain"]
