"""The embedder: bulk encodes give the same vectors as one model call, and a question asked
while an upload is being embedded is served between the upload's batches, not after it."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from rag.embedding.local import Embedder
from rag.settings import DEFAULT_MODEL

pytestmark = pytest.mark.slow

TEXTS = [f"Passage {i}: " + "the river flooded the old town " * (1 + i % 7) for i in range(100)]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.shared(DEFAULT_MODEL)


def test_batched_encode_equals_one_model_call_in_the_callers_order(embedder):
    ours = embedder.encode(TEXTS)
    ref = embedder.model.encode(TEXTS, batch_size=32, normalize_embeddings=True,
                                convert_to_numpy=True)
    assert ours.shape == (len(TEXTS), embedder.dim)
    assert np.allclose(ours, ref, atol=1e-5)


def test_batch_progress_reaches_the_total(embedder):
    seen: list[tuple[int, int]] = []
    embedder.encode(TEXTS, on_batch=lambda done, total: seen.append((done, total)))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (len(TEXTS), len(TEXTS)) and len(seen) == 4  # 100 texts, batches of 32


def test_question_goes_between_the_batches_of_an_upload(embedder):
    bulk = TEXTS * 4  # 400 passages: 13 batches
    progress: list[int] = []
    started = threading.Event()

    def on_batch(done: int, total: int) -> None:
        progress.append(done)
        started.set()

    upload = threading.Thread(target=embedder.encode, args=(bulk,),
                              kwargs={"on_batch": on_batch, "background": True})
    upload.start()
    assert started.wait(120)
    # a question's passage sentences are more than one batch: they still go first
    question = embedder.encode(["How high did the river rise?"] + TEXTS[:40])
    batches_when_answered = len(progress)
    upload.join(300)
    assert question.shape == (41, embedder.dim)
    assert len(progress) == 13
    # the question waited for at most the batch in flight (plus one racing), not the upload
    assert batches_when_answered <= 5, progress


def test_a_question_never_waits_for_the_indexing_batch_in_flight(embedder, monkeypatch):
    """Indexing runs on its own copy of the model: a question is answered while an indexing
    batch is still running (here held in flight by a gate), and both copies give the same
    vectors."""
    embedder.encode(TEXTS[:2], background=True)  # load the indexing copy
    bulk_model = embedder._models[True]
    real = bulk_model.encode
    in_flight, release = threading.Event(), threading.Event()

    def gated(texts, **kw):
        in_flight.set()
        assert release.wait(120), "the test never released the indexing batch"
        return real(texts, **kw)

    monkeypatch.setattr(bulk_model, "encode", gated)
    out: list[np.ndarray] = []
    upload = threading.Thread(target=lambda: out.append(
        embedder.encode(TEXTS[:64], background=True)))
    upload.start()
    try:
        assert in_flight.wait(60)
        question = embedder.encode(["How high did the river rise?"] + TEXTS[:10])
        assert not release.is_set() and upload.is_alive()  # answered with the batch in flight
    finally:
        release.set()
        upload.join(120)
    assert question.shape == (11, embedder.dim)
    assert np.allclose(out[0][:10], question[1:], atol=1e-5)
