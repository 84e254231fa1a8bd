"""rag/answering/evidence.py: the sentence vectors a question's evidence is built from. With a
local model one encode gives them and the alignment's word vectors (rag.answering.alignment);
they must be the vectors the embedder itself gives."""
from __future__ import annotations

import numpy as np
import pytest

from rag.answering.alignment import token_memo, tokens_for
from rag.answering.evidence import SentenceVectors
from rag.embedding.local import Embedder
from rag.settings import DEFAULT_MODEL

pytestmark = pytest.mark.slow

TEXTS = ["The attack on Crocus City Hall killed 145 people.",
         "Gunmen opened fire on the audience before setting the building on fire.",
         "word " * 400,  # truncated at the model's limit, as the embedder truncates
         "Ein kurzer deutscher Satz über die Brücken von Köln.",
         "The attack on Crocus City Hall killed 145 people."]  # a repeat


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_sentence_vectors_are_the_embedders_and_fill_the_word_vectors(backend):
    embedder = Embedder(DEFAULT_MODEL, backend=backend)  # its own: empty memos
    vectors = SentenceVectors(embedder)
    got = vectors(TEXTS)
    want = embedder.encode(TEXTS)
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-5
    memo = token_memo(embedder)
    assert memo is not None and all(t in memo._cache for t in TEXTS)  # from the same pass
    words, vecs = tokens_for(vectors)([TEXTS[0]])[0]
    assert words[:3] == ["the", "attack", "on"] and vecs.shape == (len(words), 384)


def test_an_embedder_without_a_local_model_is_asked_directly():
    class Remote:  # what a remote embedder offers: no model copy here
        dim = 3

        def __init__(self):
            self.calls = []

        def encode(self, texts):
            self.calls.append(list(texts))
            return np.eye(3, dtype=np.float32)[: len(texts)]

    remote = Remote()
    got = SentenceVectors(remote)(["a", "b", "a"])
    assert remote.calls == [["a", "b"]] and got.shape == (3, 3) and (got[0] == got[2]).all()
    assert token_memo(remote) is None


def test_a_model_pooled_otherwise_gets_its_own_sentence_vectors(tmp_path):
    """Taking a sentence's vector from its token vectors is right only for mean pooling: a
    CLS-pooled local model (DOCCHAT_EMBED_MODEL=/path) keeps the vectors it gives itself."""
    import json
    import shutil

    from rag.embedding.model_files import model_dir

    other = tmp_path / "cls-pooled"
    shutil.copytree(model_dir(DEFAULT_MODEL), other)
    cfg = other / "1_Pooling" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "pooling_mode_mean_tokens": False,
                               "pooling_mode_cls_token": True}))
    embedder = Embedder(str(other), backend="auto")  # auto: torch runs this one
    assert embedder.backend == "torch" and not embedder.mean_pooled
    got = SentenceVectors(embedder)(TEXTS[:2])
    assert np.abs(got - embedder.encode(TEXTS[:2])).max() < 1e-5
    assert Embedder(DEFAULT_MODEL, backend="onnx").mean_pooled


def test_word_vectors_cached_before_a_call_survive_the_eviction_it_causes(monkeypatch):
    """A question whose retrieved sentences are partly cached: encoding the others evicts
    the oldest entries, which may be the very ones this call needs (found by a 1,900-question
    calibration run: KeyError). Every call returns all its texts' vectors."""
    from rag.answering import alignment

    monkeypatch.setattr(alignment, "_TOKEN_CACHE", 3)
    memo = token_memo(Embedder(DEFAULT_MODEL, backend="onnx"))
    memo(TEXTS[:2])  # cached: the two oldest entries
    got = memo([TEXTS[0], TEXTS[1], TEXTS[3], "A fourth text.", "A fifth one."])
    assert [w[:2] for w, _ in got[:2]] == [["the", "attack"], ["gunmen", "opened"]]
    assert len(memo._cache) <= 3
