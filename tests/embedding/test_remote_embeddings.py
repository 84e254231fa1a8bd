"""Remote embeddings through a real OpenAI-compatible server (tests/embed_server.py: the
packaged MiniLM behind FastAPI on 127.0.0.1, started by these tests): the vectors match the
local model's, an index built through it answers like the local one, failures are retried or
reported in one line, and a change of model rebuilds the index."""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest
from conftest import ROOT, clean_env, docchat
from embed_server import embed_server

from rag.answer import ask
from rag.embedding.remote import RemoteEmbedder
from rag.embedding.local import Embedder
from rag.embedding.model_files import model_id
from rag.errors import EmbeddingError, SettingsError
from rag.index import Index
from rag.settings import DEFAULT_MODEL, Settings

slow = pytest.mark.slow  # the tests that start the server or load the model

TEXTS = [
    "How many people died in the attack?",
    "Crocus City Hall is a concert venue in Krasnogorsk, near Moscow.",
    "x",
    "Die Brücke über die Venta wurde 2031 zerstört; der Wiederaufbau kostete 41 Mio. €.",
    "def encode(texts): return [t.lower() for t in texts]  # code, not prose",
    "Temperatures of −40 °C and 3.5e-3 mol/L, 12% of 1,024 samples.",
    "東京は日本の首都です。",
    # longer than the 512 tokens the model reads: both sides truncate alike
    " ".join(["The river floods every spring and the bridge closes for a week."] * 60),
]
QUESTIONS = {  # the seed document's questions (as in tests/ui/api/test_ask.py)
    "How many people died in the attack?": "133",
    "Which earlier attacks in Russia are mentioned?": "Beslan",
    "Where were the gunmen trying to flee to?": "Ukraine",
    "Which group were the attackers affiliated with?": "Islamic State",
}
FAST_RETRY = {"embed_retries": 3, "embed_backoff": 0.01}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    # --scale: the server's vectors are not unit length; docchat must normalise them
    with embed_server("--scale", "2.5", log_dir=tmp_path_factory.mktemp("embed")) as url:
        yield url


def remote(url: str, **kw) -> Settings:
    return Settings(embed_url=url, **kw)


def requests_seen(url: str) -> int:
    return httpx.get(url.removesuffix("/v1") + "/stats").json()["requests"]


@slow
def test_remote_vectors_match_the_local_model(server_url):
    got = RemoteEmbedder(remote(server_url, embed_batch=3)).encode(TEXTS)  # 3 requests
    want = Embedder.shared(DEFAULT_MODEL).encode(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() >= 0.999, cosines
    # in order: text i's vector is closest to text i's local vector (the server lists
    # its data backwards; only "index" says which is which)
    assert list(np.argmax(got @ want.T, axis=1)) == list(range(len(TEXTS)))


@slow
def test_an_index_built_through_the_server_answers_like_the_local_one(tmp_path, server_url):
    seeds = ROOT / "seeds"
    local = Index.open(tmp_path / "local", Settings(index_dir=str(tmp_path / "local")),
                       create=True)
    local.update([seeds])
    settings = remote(server_url, index_dir=str(tmp_path / "remote"))
    before = requests_seen(server_url)
    idx = Index.open(tmp_path / "remote", settings, create=True)
    s = idx.update([seeds])
    assert s.embedded == s.chunks == local.status().chunks > 0
    assert requests_seen(server_url) > before  # the chunks really went through the server
    assert idx.status().model == model_id(settings) != local.status().model
    assert idx.status().dim == 384
    for question, needle in QUESTIONS.items():
        mine, theirs = idx.search(question, k=5), local.search(question, k=5)
        assert [(h.path, h.start) for h in mine] == [(h.path, h.start) for h in theirs]
        answer = ask(idx, question)
        assert not answer.abstained and needle in answer.answer, (question, answer.answer)
        # the answer checker and the span reader need a local model, so they are off with
        # a remote embedder: compare with the local index answering the same way
        off = local.settings.replace(reader_threshold=0.0, checker_threshold=0.0)
        assert answer.answer == ask(local, question, settings=off).answer


@slow
@pytest.mark.parametrize("status", ["503", "429"])
def test_overload_answers_are_retried_until_the_server_answers(tmp_path, status):
    with embed_server("--fail-first", "2", "--fail-status", status, log_dir=tmp_path) as url:
        emb = RemoteEmbedder(remote(url, **FAST_RETRY))
        vecs = emb.encode(TEXTS[:2])
        assert vecs.shape == (2, 384)
        assert requests_seen(url) == 3 and emb.requests == 3  # two refusals, then the answer
        want = Embedder.shared(DEFAULT_MODEL).encode(TEXTS[:2])
        assert np.sum(vecs * want, axis=1).min() >= 0.999


@slow
def test_a_server_that_does_not_answer_in_time_is_retried_then_reported(tmp_path):
    with embed_server("--delay", "3", log_dir=tmp_path) as url:
        emb = RemoteEmbedder(remote(url, embed_timeout=0.5, embed_retries=1,
                                    embed_backoff=0.01))
        with pytest.raises(EmbeddingError) as err:
            emb.encode(["a question"])
        assert str(err.value) == (f"embedding server at {url} unreachable: no answer in time "
                                  "(ReadTimeout) (2 attempts)")


@slow
def test_503s_beyond_the_retries_are_one_clear_error(tmp_path):
    with embed_server("--fail-first", "10", log_dir=tmp_path) as url:
        emb = RemoteEmbedder(remote(url, embed_retries=2, embed_backoff=0.01))
        with pytest.raises(EmbeddingError) as err:
            emb.encode(TEXTS[:2])
        assert str(err.value) == (f"embedding server at {url} failed: HTTP 503: overloaded, "
                                  "try again (3 attempts)")
        assert requests_seen(url) == 3


@slow
def test_a_400_is_not_retried_and_says_what_the_server_said(tmp_path):
    with embed_server("--always-status", "400", log_dir=tmp_path) as url:
        emb = RemoteEmbedder(remote(url, **FAST_RETRY))
        with pytest.raises(EmbeddingError) as err:
            emb.encode(["a question"])
        assert str(err.value) == (f"embedding server at {url} refused the request: HTTP 400: "
                                  "mode always-status 400")
        assert requests_seen(url) == 1


@slow
def test_a_wrong_base_url_is_a_404_with_a_hint(server_url):
    emb = RemoteEmbedder(remote(server_url.removesuffix("/v1"), **FAST_RETRY))
    with pytest.raises(EmbeddingError, match=r"HTTP 404.*the API base, e\.g\. .*/v1"):
        emb.encode(["a question"])


@slow
def test_an_unreachable_server_fails_the_cli_in_one_line_and_keeps_the_index(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    root = tmp_path / "index"
    with embed_server(log_dir=tmp_path) as url:
        env = clean_env(DOCCHAT_EMBED_URL=url, DOCCHAT_EMBED_RETRIES="2",
                        DOCCHAT_EMBED_BACKOFF="0.01")
        first = docchat("index", docs, "--index", root, "--json", env=env)
        assert first.returncode == 0, first.stderr
    before = json.loads(docchat("status", "--index", root, "--json", env=env).stdout)
    # the server is gone; a new file needs embedding
    (docs / "flood.txt").write_text("The Kuldiga flood of March 2031 destroyed the bridge.")
    proc = docchat("index", docs, "--index", root, "--json", env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"docchat: error: embedding server at {url} unreachable: "), proc.stderr
    assert lines[0].endswith("(3 attempts)")
    after = json.loads(docchat("status", "--index", root, "--json", env=env).stdout)
    assert after == before and after["files"] == 1


@slow
def test_switching_between_local_and_remote_models_rebuilds(tmp_path, server_url):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    root = str(tmp_path / "index")
    via_server = remote(server_url, index_dir=root)
    first = Index.open(root, via_server, create=True).update([docs])
    assert first.embedded == first.chunks > 0
    again = Index.open(root, via_server).update([docs])
    assert not again.full_rebuild and again.embedded == 0

    local = Index.open(root, Settings(index_dir=root)).update([docs])
    assert local.full_rebuild and local.embedded == local.chunks
    assert local.reason == f"model changed: {model_id(via_server)!r} -> {DEFAULT_MODEL!r}"

    back = Index.open(root, via_server).update([docs])
    assert back.full_rebuild and back.reason.startswith("model changed")
    other = remote(server_url, index_dir=root, embed_model="minilm-other-name")
    renamed = Index.open(root, other).update([docs])
    assert renamed.full_rebuild and renamed.embedded == renamed.chunks
    assert Index.open(root, other).status().model == model_id(other)


#: Runs ``docchat ARGS`` in a fresh interpreter; the last line says whether torch was loaded.
PROBE = ("import json, sys\nfrom rag.cli import main\nrc = main(sys.argv[1:])\n"
         "print('@@PROBE ' + json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))")


@slow
def test_indexing_and_asking_through_the_server_never_load_torch(tmp_path, server_url):
    root = str(tmp_path / "index")
    env = clean_env(DOCCHAT_EMBED_URL=server_url)
    for args in (["index", ROOT / "seeds", "--index", root],
                 ["ask", "How many people died in the attack?", "--index", root]):
        proc = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=600)
        out, _, marker = proc.stdout.rpartition("@@PROBE ")
        assert json.loads(marker) == {"rc": 0, "torch": False}, proc.stderr
    assert "133" in out  # the answer, from vectors the server made


@slow
def test_questions_against_an_index_of_another_model_are_refused_in_one_line(tmp_path,
                                                                             server_url):
    root = str(tmp_path / "index")
    Index.open(root, remote(server_url, index_dir=root), create=True).update([ROOT / "seeds"])
    proc = docchat("ask", "How many people died?", "--index", root)  # local model now
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"docchat: error: the index at {root} was built with the embedding model "
        f"{model_id(remote(server_url))!r}, the settings name {DEFAULT_MODEL!r}: run "
        "'docchat index' to rebuild it with that model")


@pytest.mark.parametrize("url, want", [
    ("http://127.0.0.1:8080/v1", "openai:127.0.0.1:8080/v1/all-MiniLM-L6-v2"),
    ("https://user:secret@api.example.com/v1/", "openai:api.example.com/v1/all-MiniLM-L6-v2"),
    ("http://gpu-1/tei-a", "openai:gpu-1/tei-a/all-MiniLM-L6-v2"),
])
def test_the_manifest_model_id_names_server_and_model_but_never_credentials(url, want):
    assert model_id(Settings(embed_url=url)) == want
    assert model_id(Settings()) == DEFAULT_MODEL  # local indexes keep their id


@pytest.mark.parametrize("var, value, accepts", [
    ("DOCCHAT_EMBED_URL", "ftp://host/v1", "empty or an http(s) URL"),
    ("DOCCHAT_EMBED_URL", "127.0.0.1:8080", "empty or an http(s) URL"),
    ("DOCCHAT_EMBED_URL", "http://host:99999/v1", "empty or an http(s) URL"),
    ("DOCCHAT_EMBED_TIMEOUT", "0", "between 0.1 and 86400"),
    ("DOCCHAT_EMBED_RETRIES", "-1", "between 0 and 20"),
    ("DOCCHAT_EMBED_RETRIES", "many", "a whole number"),
    ("DOCCHAT_EMBED_BACKOFF", "1e9", "between 0 and 60"),
    ("DOCCHAT_EMBED_BATCH", "0", "between 1 and 4096"),
])
def test_a_bad_embedding_setting_is_one_line_naming_the_variable(monkeypatch, var, value,
                                                                 accepts):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        Settings.from_env()
    assert str(err.value).startswith(f"{var}=") and accepts in str(err.value)
    proc = docchat("status", "--index", "nowhere", env=clean_env(**{var: value}))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert var in proc.stderr



@slow
@pytest.mark.e2e
def test_serve_answers_through_the_server_and_says_424_when_it_is_gone(tmp_path):
    from server import running_server

    question = {"question": "How many people died in the attack?"}
    with contextlib.ExitStack() as embedding:
        url = embedding.enter_context(embed_server(log_dir=tmp_path))
        env = {"DOCCHAT_EMBED_URL": url, "DOCCHAT_EMBED_RETRIES": "1",
               "DOCCHAT_EMBED_BACKOFF": "0.01", "DOCCHAT_WATCH_SECONDS": "0"}
        with running_server(tmp_path, env=env) as (base, _):
            status = httpx.get(f"{base}/api/status").json()
            assert status["exists"] and status["model"] == model_id(remote(url))
            seen = requests_seen(url)
            r = httpx.post(f"{base}/api/ask", json=question, timeout=120)
            assert r.status_code == 200 and "133" in r.json()["answer"], r.text
            assert requests_seen(url) > seen  # the question was embedded by the server

            embedding.close()  # the embedding server goes away; docchat keeps running
            r = httpx.post(f"{base}/api/ask", json=question, timeout=120)
            assert r.status_code == 424, r.text
            assert r.json()["detail"].startswith(f"embedding server at {url} unreachable: ")
            assert httpx.get(f"{base}/api/status").json()["chunks"] == status["chunks"]
