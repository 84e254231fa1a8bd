"""One copy of the model on ONNX Runtime (rag/embedding/onnx_model.py), on a tiny graph built
here (a lookup table in place of the transformer, so each token's vector is known) with the
packaged model's real tokenizer: mean pooling under the attention mask, so a text's vector does
not depend on the batch it is padded in; results in input order; truncation at max_seq_length;
the pooling check that refuses what this cannot run."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.embedding.model_files import model_dir
from rag.embedding.onnx_model import (DEFAULT_MAX_SEQ, Counters, OnnxModel, PieceTokenizer,
                                      check_pooling, max_seq_length)
from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL

DIM = 4


def lookup_graph(path, vocab: int, table: np.ndarray) -> None:
    """token_embeddings[b, t] = table[input_ids[b, t]] (the mask is an input, as the exported
    transformer's, but unused: pooling must apply it)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["token_embeddings"], axis=0)],
        "lookup",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["b", "t", DIM])],
        [numpy_helper.from_array(table.astype(np.float32), "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An OnnxModel over the lookup graph, the packaged tokenizer, max_seq_length 16."""
    folder = tmp_path_factory.mktemp("tiny")
    src = model_dir(DEFAULT_MODEL)
    for name in ("tokenizer.json", "modules.json"):
        shutil.copy(src / name, folder / name)
    shutil.copytree(src / "1_Pooling", folder / "1_Pooling")
    config = json.loads((src / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": DIM}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    table = np.random.default_rng(7).normal(size=(config["vocab_size"], DIM))
    lookup_graph(folder / "model.onnx", config["vocab_size"], table)
    model = OnnxModel(folder / "model.onnx", folder, threads=1)
    model.table = table
    return model


def expected(model, text: str) -> np.ndarray:
    ids = model._tok.encode(text).ids
    v = model.table[ids].mean(axis=0)
    return v / np.linalg.norm(v)


def test_a_vector_is_the_mean_of_its_tokens_whatever_batch_pads_it(tiny):
    texts = ["short", "a much longer text than the first one, padded to", "mid length text"]
    together = tiny.encode(texts, batch_size=3)
    alone = np.vstack([tiny.encode([t]) for t in texts])
    assert together.shape == (3, DIM) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-6)  # padding changes nothing
    for row, text in zip(together, texts):  # in input order, though run longest first
        np.testing.assert_allclose(row, expected(tiny, text), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1, atol=1e-6)


def test_unnormalised_vectors_and_token_vectors_are_given_on_request(tiny):
    texts = ["one two three", "four"]
    raw = tiny.encode(texts, normalize_embeddings=False)
    ids = tiny._tok.encode(texts[0]).ids
    np.testing.assert_allclose(raw[0], tiny.table[ids].mean(axis=0), atol=1e-5)
    tokens = tiny.encode(texts, output_value="token_embeddings")
    assert [t.shape for t in tokens] == [(len(ids), DIM), (3, DIM)]  # [CLS] four [SEP]
    np.testing.assert_allclose(tokens[0], tiny.table[ids], atol=1e-6)


def test_a_long_text_is_truncated_at_max_seq_length_and_counted(tiny):
    before = Counters(**vars(tiny.counters))
    assert tiny.max_seq_length == 16
    assert tiny.token_lengths(["word " * 100, "hello"]) == [16, 3]
    out = tiny.encode(["word " * 100, "hello", "word " * 5], batch_size=2)
    np.testing.assert_allclose(out[0], expected(tiny, "word " * 100), atol=1e-5)
    c = tiny.counters
    assert c.batches - before.batches == 2
    assert c.real_tokens - before.real_tokens == 16 + 3 + 7
    assert c.padded_tokens - before.padded_tokens == 2 * 16 + 1 * 3
    assert c.attention_units - before.attention_units == 2 * 16 * 16 + 3 * 3


def test_the_piece_tokenizer_gives_ids_offsets_and_word_ids(tiny):
    pieces = tiny.tokenizer(["Zürich harbour", "hi"], truncation=True, max_length=4)
    assert tiny.tokenizer is tiny.tokenizer  # made once
    assert len(pieces["input_ids"][0]) == 4 and pieces["input_ids"][0][0] == 101  # [CLS]
    assert pieces["offset_mapping"][0][1] == (0, 6)  # "Zürich": characters, not bytes
    assert pieces.word_ids(0)[0] is None and pieces.word_ids(0)[1] == 0
    whole = PieceTokenizer(tiny.model_dir / "tokenizer.json")(["word " * 600])
    assert len(whole["input_ids"][0]) == 602  # no truncation unless asked


def pooling_dir(tmp_path, modules: list[str], modes: dict | None = None):
    kinds = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize",
             "Dense": "2_Dense"}
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"path": kinds[k], "type": f"sentence_transformers.models.{k}"} for k in modules]))
    (tmp_path / "1_Pooling").mkdir(exist_ok=True)
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(
        modes if modes is not None else {"pooling_mode_mean_tokens": True,
                                         "pooling_mode_cls_token": False}))
    return tmp_path


@pytest.mark.parametrize("modules", [["Transformer", "Pooling"],
                                     ["Transformer", "Pooling", "Normalize"]])
def test_a_transformer_with_mean_pooling_is_accepted(tmp_path, modules):
    check_pooling(pooling_dir(tmp_path, modules))
    check_pooling(tmp_path / "bare")  # no modules.json: a bare transformer, mean-pooled


@pytest.mark.parametrize("modules, modes", [
    (["Transformer", "Pooling"], {"pooling_mode_cls_token": True}),
    (["Transformer", "Pooling"], {"pooling_mode_mean_tokens": True,
                                  "pooling_mode_max_tokens": True}),
    (["Transformer", "Pooling", "Dense"], None),
    (["Pooling", "Transformer"], None),
    (["Transformer"], None)])
def test_anything_else_is_refused_with_the_setting_to_change(tmp_path, modules, modes):
    with pytest.raises(DocchatError, match="DOCCHAT_EMBED_BACKEND=torch"):
        check_pooling(pooling_dir(tmp_path, modules, modes))


def test_max_seq_length_is_the_models_or_sentence_transformers_default(tmp_path):
    assert max_seq_length(tmp_path) == DEFAULT_MAX_SEQ == 256
    (tmp_path / "sentence_bert_config.json").write_text('{"do_lower_case": false}')
    assert max_seq_length(tmp_path) == 256
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    assert max_seq_length(tmp_path) == 128
    assert max_seq_length(model_dir(DEFAULT_MODEL)) == 256
