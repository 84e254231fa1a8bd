"""rag/embedding/local.py with small fake models in place of MiniLM (``Embedder._load_onnx``
is where a copy is made): the backend a name gives and the id it records, batches longest
first with the vectors back in the caller's order, progress, one foreground and one
background copy each loaded once, indexing pausing between its batches while a question is
encoded (and a moment after), a question never waiting for an indexing batch, a failed
question not stalling indexing, auto falling back to torch, and the once-per-process copies
(``shared``, ``embedder_for``). The real model's batches and vectors are in
test_embedding.py."""
from __future__ import annotations

import json
import shutil
import sys
import threading
import time
import types

import numpy as np
import pytest
from fakes import HashEmbedder

from rag.embedding import local
from rag.embedding.local import Embedder, embedder_for
from rag.embedding.model_files import model_dir
from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL, Settings

DIM = 16


class FakeModel:
    """One copy of a model: HashEmbedder's vectors, each call recorded (its texts, when it
    started and ended); ``gate``: an Event a call waits for before answering; ``fail``: the
    error a call raises; ``counts``: whether it measures texts in tokens (as OnnxModel)."""

    def __init__(self, counts: bool = True) -> None:
        self.calls: list[list[str]] = []
        self.times: list[tuple[float, float]] = []
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.fail: Exception | None = None
        self.kwargs: list[dict] = []
        if counts:
            self.token_lengths = lambda texts: [len(t.split()) for t in texts]

    def get_sentence_embedding_dimension(self) -> int:
        return DIM

    def encode(self, texts, **kw):
        t0 = time.monotonic()
        self.calls.append(list(texts))
        self.kwargs.append(kw)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        if self.fail is not None:
            raise self.fail
        self.times.append((t0, time.monotonic()))
        return HashEmbedder(DIM).encode(texts)


@pytest.fixture
def made(monkeypatch):
    """Embedders made in this test load FakeModels; the list holds each copy made."""
    copies: list[FakeModel] = []

    def load_onnx(self):
        copies.append(FakeModel())
        time.sleep(0.02)  # a model loading: threads asking at once overlap
        return copies[-1]

    monkeypatch.setattr(Embedder, "_load_onnx", load_onnx)
    return copies


@pytest.fixture
def embedder(made) -> Embedder:
    return Embedder(DEFAULT_MODEL, batch_size=4, backend="onnx")


def expected(texts) -> np.ndarray:
    return HashEmbedder(DIM).encode(texts)


# -- names and backends ------------------------------------------------------------------

def test_an_unknown_backend_is_refused_naming_it_and_the_choices():
    with pytest.raises(DocchatError) as e:
        Embedder(DEFAULT_MODEL, backend="tensorrt")
    assert str(e.value) == ("unknown embedding backend 'tensorrt': one of auto, torch, onnx, "
                            "onnx-int8")


@pytest.mark.parametrize("backend,name", [("onnx", DEFAULT_MODEL),
                                          ("onnx-int8", DEFAULT_MODEL + "@onnx-int8")])
def test_the_name_an_index_records_marks_int8_as_another_model(made, backend, name):
    e = Embedder(DEFAULT_MODEL, backend=backend)
    assert e.name == name and e.backend == backend and not made  # nothing loaded yet


def test_an_onnxruntime_that_does_not_import_leaves_auto_on_torch_and_fails_onnx(
        monkeypatch, caplog):
    def broken(backend):
        raise DocchatError(f"DOCCHAT_EMBED_BACKEND={backend}: onnxruntime is installed but "
                           "does not load (libonnxruntime.so.1)")

    monkeypatch.setattr(local, "_need_onnxruntime", broken)
    auto = Embedder(DEFAULT_MODEL, backend="auto")
    assert auto.backend == "torch" and auto.name == DEFAULT_MODEL  # the same model id
    assert "running on torch" in caplog.text and "libonnxruntime" in caplog.text
    with pytest.raises(DocchatError, match="does not load"):
        Embedder(DEFAULT_MODEL, backend="onnx")


def test_auto_loads_torch_when_the_onnx_copy_cannot_be_made(monkeypatch, caplog):
    class SentenceTransformer(FakeModel):
        def __init__(self, path, device, local_files_only):
            super().__init__()
            self.path, self.device = path, device

    monkeypatch.setitem(sys.modules, "sentence_transformers",
                        types.SimpleNamespace(SentenceTransformer=SentenceTransformer))

    def no_export(self):
        raise OSError("cache folder is read-only")

    monkeypatch.setattr(Embedder, "_load_onnx", no_export)
    auto = Embedder(DEFAULT_MODEL, batch_size=4, backend="auto")
    if auto.backend != "onnx":
        pytest.skip("auto does not resolve to onnx here (onnxruntime missing)")
    vecs = auto.encode(["hello", "world"])
    assert auto.backend == "torch" and isinstance(auto.model, SentenceTransformer)
    assert auto.model.path == str(model_dir(DEFAULT_MODEL)) and auto.model.device == "cpu"
    assert np.allclose(vecs, expected(["hello", "world"]))
    assert "running on torch" in caplog.text and "read-only" in caplog.text
    named = Embedder(DEFAULT_MODEL, backend="onnx")  # chosen by name: the error stands
    with pytest.raises(OSError, match="read-only"):
        named.encode(["x"])


# -- batches -----------------------------------------------------------------------------

def test_batches_go_longest_first_and_vectors_come_back_in_the_callers_order(embedder, made):
    texts = ["one", "three words here", "", "two words", "a b c d e f", "Köln 北京 🙂",
             "one", "x " * 50]
    vecs = embedder.encode(texts)
    assert vecs.shape == (len(texts), DIM) and vecs.dtype == np.float32
    assert vecs.flags["C_CONTIGUOUS"]
    assert np.allclose(vecs, expected(texts))  # row i is text i's, duplicates included
    (model,) = made
    assert [len(c) for c in model.calls] == [4, 4]  # batch_size 4
    sent = [t for c in model.calls for t in c]
    lengths = [len(t.split()) for t in sent]
    assert lengths == sorted(lengths, reverse=True) and sorted(sent) == sorted(texts)
    assert all(kw["normalize_embeddings"] and kw["convert_to_numpy"] and
               not kw["show_progress_bar"] for kw in model.kwargs)


def test_a_model_that_cannot_count_tokens_is_ordered_by_characters(made, monkeypatch):
    monkeypatch.setattr(Embedder, "_load_onnx",
                        lambda self: made.append(FakeModel(counts=False)) or made[-1])
    e = Embedder(DEFAULT_MODEL, batch_size=2, backend="onnx")
    texts = ["bb", "a", "dddd", "ccc"]
    assert np.allclose(e.encode(texts), expected(texts))
    assert made[0].calls == [["dddd", "ccc"], ["bb", "a"]]


def test_progress_is_reported_after_each_batch_up_to_the_total(embedder):
    seen: list[tuple[int, int]] = []
    embedder.encode([f"text {i}" for i in range(10)], on_batch=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_nothing_to_encode_is_an_empty_matrix_of_the_models_width(embedder):
    for nothing in ([], (), iter([])):
        vecs = embedder.encode(nothing)
        assert vecs.shape == (0, DIM) and vecs.dtype == np.float32


def test_the_dimension_is_read_from_the_model_under_either_method_name(made, monkeypatch):
    class Newer(FakeModel):
        get_sentence_embedding_dimension = None

        def get_embedding_dimension(self):
            return 7

    monkeypatch.setattr(Embedder, "_load_onnx", lambda self: Newer())
    assert Embedder(DEFAULT_MODEL, backend="onnx").dim == 7


# -- two copies, each loaded once --------------------------------------------------------

def test_questions_and_indexing_each_load_their_own_copy_once(embedder, made):
    embedder.encode(["indexing"], background=True)
    assert len(made) == 1  # `docchat index` loads only its copy
    embedder.warm_up()
    embedder.encode(["a question"])
    embedder.encode(["more indexing"], background=True)
    assert len(made) == 2
    assert made[0].calls == [["indexing"], ["more indexing"]]
    assert made[1].calls == [["a question"]] and embedder.model is made[1]


def test_threads_asking_for_a_copy_at_once_load_it_once(embedder, made):
    threads = [threading.Thread(target=embedder.encode, args=([f"q{i}"],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(made) == 1 and len(made[0].calls) == 6


# -- questions first ---------------------------------------------------------------------

def run(fn, *args, **kw) -> tuple[threading.Thread, list]:
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn(*args, **kw)), daemon=True)
    t.start()
    return t, out


def test_indexing_pauses_between_batches_while_a_question_is_encoded(embedder, made,
                                                                     monkeypatch):
    monkeypatch.setattr(local, "FOREGROUND_GRACE", 0.2)
    embedder.warm_up()
    embedder.encode(["load the indexing copy"], background=True)
    question, bulk = made[0], made[1]
    question.gate = threading.Event()
    q, q_out = run(embedder.encode, ["How high did the river rise?"])
    assert question.started.wait(5)
    texts = [f"passage {i}" for i in range(12)]
    b, b_out = run(embedder.encode, texts, background=True)
    time.sleep(0.3)
    assert len(bulk.calls) == 1  # only the loading call: indexing waits for the question
    question.gate.set()
    q.join(5)
    b.join(5)
    assert q_out and b_out and np.allclose(b_out[0], expected(texts))
    asked_end = question.times[-1][1]
    first_batch = bulk.times[1][0]
    assert first_batch - asked_end >= 0.15  # and a moment after it, for the next encode


def test_a_question_never_waits_for_the_indexing_batch_in_flight(embedder, made):
    embedder.encode(["load"], background=True)
    bulk = made[0]
    bulk.gate, bulk.started = threading.Event(), threading.Event()
    b, b_out = run(embedder.encode, [f"passage {i}" for i in range(8)], background=True)
    try:
        assert bulk.started.wait(5)
        t0 = time.monotonic()
        vecs = embedder.encode(["a question", "its passage"])
        assert time.monotonic() - t0 < 2 and b.is_alive()  # answered, the batch in flight
        assert np.allclose(vecs, expected(["a question", "its passage"]))
    finally:
        bulk.gate.set()
        b.join(5)
    assert b_out


def test_other_calls_on_the_questions_copy_pause_indexing_too(embedder, made, monkeypatch):
    monkeypatch.setattr(local, "FOREGROUND_GRACE", 0.0)
    embedder.encode(["load"], background=True)
    bulk = made[0]
    with embedder.foreground() as model:  # token vectors for the alignment, say
        assert model is embedder.model and model is not bulk
        b, b_out = run(embedder.encode, ["p1", "p2"], background=True)
        time.sleep(0.2)
        assert len(bulk.calls) == 1
    b.join(5)
    assert b_out and len(bulk.calls) == 2


def test_a_failed_question_does_not_leave_indexing_waiting(embedder, made, monkeypatch):
    monkeypatch.setattr(local, "FOREGROUND_GRACE", 0.0)
    embedder.warm_up()
    made[0].fail = RuntimeError("out of memory")
    with pytest.raises(RuntimeError, match="out of memory"):
        embedder.encode(["a question"])
    with pytest.raises(ValueError):
        with embedder.foreground():
            raise ValueError("the caller's own error")
    b, b_out = run(embedder.encode, ["p1", "p2", "p3", "p4", "p5"], background=True)
    b.join(5)
    assert not b.is_alive() and b_out and b_out[0].shape == (5, DIM)


# -- once per process --------------------------------------------------------------------

def test_one_embedder_per_model_backend_and_onnx_options(made, tmp_path):
    name = str(tmp_path)  # a local folder: its own key, forgotten at the end
    try:
        a = Embedder.shared(name, 8, "onnx", 2, "/cache")
        assert Embedder.shared(name, 8, "onnx", 2, "/cache") is a
        assert Embedder.shared(name, 8, "onnx", 1, "/cache") is not a
        assert Embedder.shared(name, 8, "onnx-int8", 2, "/cache") is not a
        assert (a.batch_size, a.threads, a.onnx_dir) == (8, 2, "/cache")
    finally:
        local._EMBEDDERS.remove(lambda key: key[0] == name)


def test_settings_pick_the_local_model_or_one_client_per_server(made, tmp_path):
    name = str(tmp_path)
    s = Settings(embed_model=name, embed_batch=5, embed_backend="onnx", embed_threads=3,
                 embed_onnx_dir=str(tmp_path / "cache"))
    try:
        e = embedder_for(s)
        assert isinstance(e, Embedder) and e is embedder_for(s)
        assert (e.batch_size, e.backend, e.threads, e.onnx_dir) == \
            (5, "onnx", 3, str(tmp_path / "cache"))
        remote = s.replace(embed_url="http://127.0.0.1:9/v1", embed_api_key="k1")
        r = embedder_for(remote)
        assert not isinstance(r, Embedder) and r is embedder_for(remote)
        assert embedder_for(remote.replace(embed_api_key="k2")) is not r
        assert r.url == "http://127.0.0.1:9/v1/embeddings" and r.batch_size == 5
    finally:
        local._EMBEDDERS.remove(lambda key: key[0] == name)
        local._REMOTE.remove(lambda key: key[0] == "http://127.0.0.1:9/v1")


# -- mean pooling ------------------------------------------------------------------------

def test_mean_pooled_is_read_from_the_models_modules(tmp_path):
    src = model_dir(DEFAULT_MODEL)
    assert Embedder(DEFAULT_MODEL, backend="onnx").mean_pooled
    cls = tmp_path / "cls"
    (cls / "1_Pooling").mkdir(parents=True)
    shutil.copy(src / "modules.json", cls / "modules.json")
    config = json.loads((src / "1_Pooling" / "config.json").read_text())
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(
        {**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert not Embedder(str(cls), backend="onnx").mean_pooled
    (cls / "1_Pooling" / "config.json").write_text("{ broken")
    assert not Embedder(str(cls), backend="onnx").mean_pooled
