"""The alignment of a question with an answer and its passage (rag/answering/alignment.py):
each content word of the question matched to its closest word of a text (the same stem, else
the cosine of word vectors), the features answerability reads, the focus word, and the
contextual word vectors kept per text (TokenVectors). No model: one-hot word vectors
(tests/answering/test_answerability.py's fake_vectors) and a fake model for TokenVectors
whose tokenizer cuts words into pieces, as a real one does."""
from __future__ import annotations

import re
from contextlib import contextmanager

import numpy as np
import pytest
from test_answerability import fake_vectors

from rag.answering import alignment as alignmod
from rag.answering.alignment import (TokenVectors, alignment, focus_word, surface, token_memo,
                                     tokens_for)

FEATURES = {"align_answer_min", "align_answer_second", "align_answer_mean",
            "align_passage_min", "align_passage_mean", "unaligned_answer",
            "unaligned_passage", "focus_answer", "focus_passage", "novel_answer"}


def static_tokens(texts):
    """Word vectors without a model: each word its fake_vectors vector (only equal words
    align)."""
    out = []
    for t in texts:
        ws = [w.strip("?.,!") for w in t.lower().split()]
        out.append((ws, fake_vectors(ws)))
    return out


def test_focus_is_the_content_word_after_the_wh_word():
    assert focus_word("In what year did the Normans rule?", ["year", "normans", "rule"]) == "year"
    assert focus_word("How many people died?", ["people", "died"]) == "people"
    assert focus_word("The Normans ruled where?", ["normans", "ruled"]) == "normans"


def test_a_question_word_the_answer_lacks_is_unaligned():
    sent = "The Normans conquered England in 1066 under William."
    asked = alignment(static_tokens, "Who conquered England in 1066?", [sent], [sent])
    assert asked["unaligned_answer"] == 0 and asked["align_answer_min"] == 1.0
    # "Wales" is in neither the answer nor its passage; the rest is
    swapped = alignment(static_tokens, "Who conquered Wales in 1066?", [sent], [sent])
    assert swapped["unaligned_answer"] == 1 and swapped["unaligned_passage"] == 1
    assert swapped["align_answer_min"] < 0.5 and swapped["align_answer_second"] == 1.0
    # the focus: the word after "what", absent from the answer but present in the passage
    focus = alignment(static_tokens, "What army conquered England?",
                      ["William conquered England in 1066."],
                      ["William conquered England in 1066. His army was Norman."])
    assert focus["focus_answer"] < 0.5 and focus["focus_passage"] == 1.0
    # what the answer adds beyond the question: "normans", "under", "william" (of its six
    # words beyond stopwords)
    assert asked["novel_answer"] == pytest.approx(3 / 6)


# -- new tests --------------------------------------------------------------------------------

def test_surface_keeps_the_question_content_words_once_in_order():
    assert surface("How many people did the people of Rome elect in 1066?") == \
        ["people", "rome", "elect", "1066"]
    assert surface("What is it?") == []


def test_the_same_stem_aligns_even_when_the_word_vectors_differ():
    got = alignment(static_tokens, "Who ruled Normandy?", ["William rules Normandy."],
                    ["William rules Normandy."])
    assert got["align_answer_min"] == 1.0 and got["unaligned_answer"] == 0
    assert got["focus_answer"] == 1.0  # "ruled": the word after "who"


def test_a_paraphrase_aligns_by_its_vector_and_a_far_word_does_not():
    def tokens(texts):  # "monarch" and "king" close (cosine 0.8), every other word alone
        out = []
        for t in texts:
            ws = [w.strip("?.,!") for w in t.lower().split()]
            v = fake_vectors(ws)
            for i, w in enumerate(ws):
                if w == "monarch":
                    v[i] = 0.8 * fake_vectors(["king"])[0] + 0.6 * fake_vectors(["zz"])[0]
            out.append((ws, v))
        return out
    close = alignment(tokens, "Which monarch ruled Normandy?", ["The king ruled Normandy."],
                      ["The king ruled Normandy."])
    assert close["align_answer_min"] == pytest.approx(0.8) and close["unaligned_answer"] == 0
    far = alignment(tokens, "Which bishop ruled Normandy?", ["The king ruled Normandy."],
                    ["The king ruled Normandy."])
    assert far["align_answer_min"] == 0.0 and far["unaligned_answer"] == 1


def test_a_passage_is_read_sentence_by_sentence_and_across_passages():
    got = alignment(static_tokens, "Who conquered England in 1066?",
                    ["William did."], ["He conquered England.", "It was in 1066."])
    assert got["align_passage_min"] == 1.0 and got["unaligned_passage"] == 0
    assert got["unaligned_answer"] == 3  # conquered, england, 1066: none in "William did."


@pytest.mark.parametrize("question, answer, passages", [
    ("What is it?", ["It is a thing."], ["It is a thing."]),  # no content word
    ("Who conquered England?", [], []),  # nothing to align with
    ("Who conquered England?", [""], [""]),  # empty texts
])
def test_edge_cases_give_every_feature_as_a_finite_number(question, answer, passages):
    got = alignment(static_tokens, question, answer, passages)
    assert set(got) == FEATURES and all(np.isfinite(v) for v in got.values())
    if not surface(question):
        assert got["unaligned_answer"] == 0 and got["align_answer_min"] == 1.0
    else:
        assert got["unaligned_answer"] == len(surface(question)) and got["novel_answer"] == 0


def test_the_focus_falls_back_to_the_first_content_word():
    assert focus_word("Tell me about the Normans in England", ["normans", "england"]) == \
        "normans"
    assert focus_word("Which?", []) is None


class FakeModel:
    """A sentence-transformers stand-in: words cut in pieces of up to three letters (each
    piece a token, its own one-hot vector, scaled by its position), so a word's vector is
    the mean of several tokens, as with word pieces."""

    max_seq_length = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def _pieces(self, text):
        for m in re.finditer(r"\w+", text):
            for a in range(m.start(), m.end(), 3):
                yield m.start(), a, min(a + 3, m.end())

    def tokenizer(self, texts, **_):
        model = self

        class Out(dict):
            def word_ids(self, i):
                starts = [w for w, _, _ in model._pieces(texts[i])]
                return [None] + [sorted(set(starts)).index(s) for s in starts] + [None]
        return Out(offset_mapping=[[(0, 0)] + [(a, b) for _, a, b in self._pieces(t)] + [(0, 0)]
                                   for t in texts])

    def encode(self, texts, output_value=None, **_):
        assert output_value == "token_embeddings"
        self.encoded += texts
        out = []
        for t in texts:
            rows = [np.zeros(8, np.float32)]  # [CLS]
            for k, (_, a, b) in enumerate(self._pieces(t)):
                v = fake_vectors([t[a:b].lower()])[0][:8].astype(np.float32) + 0.1
                rows.append(v * (k + 1))
            rows.append(np.zeros(8, np.float32))  # [SEP]
            out.append(np.stack(rows))
        return out


def memo_of(model):
    @contextmanager
    def call():
        yield model
    return TokenVectors(call)


def test_token_vectors_are_one_unit_vector_a_word_from_its_pieces_and_cached():
    model = FakeModel()
    memo = memo_of(model)
    (ws, vecs), = memo(["Normandy was ruled."])
    assert ws == ["normandy", "was", "ruled"]  # "nor"+"man"+"dy": one word, lower case
    assert vecs.shape == (3, 8) and np.allclose(np.linalg.norm(vecs, axis=1), 1)
    emb = model.encode(["Normandy was ruled."], output_value="token_embeddings")[0]
    want = emb[1:4].mean(axis=0)
    assert np.allclose(vecs[0], want / np.linalg.norm(want), atol=1e-6)
    model.encoded.clear()
    again = memo(["Normandy was ruled.", "Normandy was ruled."])
    assert model.encoded == [] and all(np.array_equal(v, vecs) for _, v in again)


def test_pooled_is_the_unit_mean_of_all_tokens_and_fills_the_word_cache():
    model = FakeModel()
    memo = memo_of(model)
    texts = ["A falcon.", "The quarry.", "A falcon."]
    pooled = memo.pooled(texts)
    assert model.encoded == ["A falcon.", "The quarry."]  # each text once
    for t, row in zip(texts, pooled):
        emb = model.encode([t], output_value="token_embeddings")[0]
        mean = emb.mean(axis=0)
        assert np.allclose(row, mean / np.linalg.norm(mean), atol=1e-6)
    model.encoded.clear()
    memo(texts)
    assert model.encoded == []


def test_a_call_gets_every_text_even_when_encoding_evicts_its_cached_ones(monkeypatch):
    monkeypatch.setattr(alignmod, "_TOKEN_CACHE", 2)
    model = FakeModel()
    memo = memo_of(model)
    memo(["Alpha one.", "Beta two."])
    got = memo(["Alpha one.", "Gamma three.", "Delta four.", "Beta two."])
    assert [ws for ws, _ in got] == [["alpha", "one"], ["gamma", "three"], ["delta", "four"],
                                     ["beta", "two"]]
    assert len(memo._cache) <= 2


def test_tokens_for_a_plain_function_is_word_by_word_and_a_model_keeps_one_memo():
    tokens = tokens_for(lambda ws: fake_vectors(ws))
    (ws, vecs), = tokens(["Falcons nest, falcons fly."])
    assert ws == ["falcons", "nest", "falcons", "fly"]
    assert np.array_equal(vecs[0], vecs[2]) and vecs.shape[0] == 4
    assert token_memo(None) is None

    class Embedder:
        foreground = None

    e = Embedder()
    e.foreground = lambda: memo_of(FakeModel())._model_call()
    assert token_memo(e) is token_memo(e) is e.token_vectors
