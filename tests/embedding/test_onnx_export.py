"""rag/embedding/onnx_export.py without exporting the model: where exports are cached, the
cache key (the model's files by name, size and mtime, never read; the recipe and the
onnxruntime version), ensure exporting only what is missing, the atomic folder (all or
nothing; another process's finished export stands), the int8 quantisation on a tiny graph
(only the named linear layers with weights), the layer-by-layer forward the exporter traces,
the one-line errors and ``make onnx``'s main. The real export (reproducible, the vectors of
the torch model) is in test_onnx.py."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import onnx_export
from rag.embedding.onnx_export import (FILES, atomic_folder, cache_root, ensure, export_key,
                                       quantize_int8, sha256, versions)
from rag.errors import DocchatError


@pytest.fixture
def model(tmp_path) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    (folder / "1_Pooling" / "config.json").write_text("{}")
    return folder


# -- where, and under which name ---------------------------------------------------------

def test_a_configured_cache_folder_is_used_as_given_with_home_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root("/srv/onnx") == Path("/srv/onnx")
    assert cache_root("~/onnx") == tmp_path / "onnx"


def test_unconfigured_it_is_the_venv_when_writable_else_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    assert cache_root() == tmp_path / "venv" / "var" / "docchat" / "onnx"
    monkeypatch.setattr(os, "access", lambda p, mode: False)  # a system Python, not root
    assert cache_root() == tmp_path / "home" / ".cache" / "docchat" / "onnx"


def test_the_key_is_stable_and_changes_with_any_model_file(model):
    key = export_key(model)
    assert len(key) == 20 and int(key, 16) >= 0 and export_key(model) == key
    weights = model / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-saved, same size
    touched = export_key(model)
    assert touched != key
    (model / "1_Pooling" / "config.json").write_text('{"x": 1}')  # a file in a subfolder
    grown = export_key(model)
    assert grown != touched
    (model / "tokenizer.json").write_text("{}")  # a file added
    assert export_key(model) != grown


def test_the_key_reads_no_file_and_names_the_folder_and_the_onnxruntime_version(
        model, tmp_path, monkeypatch):
    import shutil

    key = export_key(model)
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    for src in model.rglob("*"):  # the same files, times and all, in another folder
        st = src.stat()
        os.utime(copy / src.relative_to(model), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert export_key(copy) != key
    weights = model / "model.safetensors"
    st = weights.stat()
    weights.write_bytes(b"\1" * 64)  # other bytes, same size and time: not read, same key
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert export_key(model) == key
    real = onnx_export._version
    monkeypatch.setattr(onnx_export, "_version",
                        lambda p: "9.9.9" if p == "onnxruntime" else real(p))
    assert export_key(model) != key


def test_ensure_exports_when_the_variant_is_missing_and_not_when_it_is_there(model, tmp_path,
                                                                            monkeypatch):
    built: list[Path] = []

    def fake_build(model_dir: Path, folder: Path) -> Path:
        built.append(folder)
        folder.mkdir(parents=True)
        for name in FILES.values():
            (folder / name).write_bytes(b"onnx")
        return folder

    monkeypatch.setattr(onnx_export, "build", fake_build)
    root = tmp_path / "cache"
    int8 = ensure(model, "int8", root)
    assert int8 == root / export_key(model) / FILES["int8"] and built == [int8.parent]
    assert ensure(model, "fp32", root) == int8.parent / FILES["fp32"] and len(built) == 1


# -- the atomic folder -------------------------------------------------------------------

def test_the_folder_appears_whole_and_no_temporary_folder_is_left(tmp_path):
    def fill(tmp: Path) -> None:
        assert tmp.parent == tmp_path / "cache" and tmp.name.startswith(".export-")
        (tmp / "a.onnx").write_bytes(b"a")
        (tmp / "export.json").write_text("{}")

    folder = atomic_folder(tmp_path / "cache" / "key", fill, ["a.onnx"])
    assert folder == tmp_path / "cache" / "key"
    assert sorted(p.name for p in folder.iterdir()) == ["a.onnx", "export.json"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["key"]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o755)  # readable by other users


def test_a_fill_that_fails_leaves_no_folder(tmp_path):
    def fill(tmp: Path) -> None:
        (tmp / "a.onnx").write_bytes(b"half")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError, match="killed half-way"):
        atomic_folder(tmp_path / "cache" / "key", fill, ["a.onnx"])
    assert list((tmp_path / "cache").iterdir()) == []


def test_another_processs_finished_export_stands_and_a_broken_one_is_an_error(tmp_path):
    folder = tmp_path / "key"
    folder.mkdir()
    (folder / "a.onnx").write_bytes(b"theirs")
    (folder / "export.json").write_text("{}")
    mine = atomic_folder(folder, lambda tmp: (tmp / "a.onnx").write_bytes(b"mine"),
                         ["a.onnx"])
    assert mine == folder and (folder / "a.onnx").read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]
    with pytest.raises(OSError):  # a folder without the file: not a finished export
        atomic_folder(folder, lambda tmp: (tmp / "b.onnx").write_bytes(b"x"), ["b.onnx"])
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


# -- int8 on a tiny graph ----------------------------------------------------------------

LINEAR = ("/encoder/layer.0/attention/self/query/MatMul",
          "/encoder/layer.0/attention/output/dense/MatMul",
          "/encoder/layer.0/intermediate/dense/MatMul")


def tiny_graph(path: Path, names=LINEAR) -> None:
    """x (n x 8) through MatMuls by 8 x 8 weights named like the exported BERT's, then one
    activation x activation MatMul named like the attention's scores (no weight)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    nodes, inits, prev = [], [], "x"
    for i, name in enumerate(names):
        inits.append(numpy_helper.from_array(rng.normal(size=(8, 8)).astype(np.float32),
                                             f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"], name=name))
        prev = f"h{i}"
    nodes.append(helper.make_node("Transpose", [prev], ["t"], perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", [prev, "t"], ["y"],
                                  name="/encoder/layer.0/attention/self/key/MatMul_scores"))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "n"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_int8_quantises_only_the_named_linear_layers_with_weights(tmp_path):
    """...and its output stays close to fp32's on any CPU: without VNNI (AVX2 only) 8-bit
    per-channel weights overflowed the kernel's int16 sums and put this graph's output 711
    off (REDUCE_RANGE: 7-bit weights)."""
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    tiny_graph(tmp_path / "fp32.onnx")
    root = logging.getLogger()
    level = root.level
    nodes = quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    assert nodes == list(LINEAR[:2])  # not the feed-forward, not the weightless scores
    assert root.level == level  # the quantiser's advice was silenced, the level restored
    x = np.random.default_rng(5).normal(size=(3, 8)).astype(np.float32)
    run = [ort.InferenceSession(str(tmp_path / f), providers=["CPUExecutionProvider"])
           .run(None, {"x": x})[0] for f in ("fp32.onnx", "int8.onnx")]
    assert run[1].shape == (3, 3) and np.allclose(run[0], run[1], rtol=0.1, atol=0.5)


def test_a_graph_without_those_layers_is_refused_by_name(tmp_path):
    pytest.importorskip("onnxruntime")
    tiny_graph(tmp_path / "fp32.onnx", names=("/mlp/fc1/MatMul",))
    with pytest.raises(DocchatError, match="no linear layer of .*fp32.onnx matches.*BERT-like"):
        quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")
    assert not (tmp_path / "int8.onnx").exists()


# -- the forward the exporter traces -----------------------------------------------------

def test_the_traced_forward_gives_each_layer_berts_additive_mask():
    torch = pytest.importorskip("torch")
    seen = []

    class Layer:
        def __init__(self, tuple_out: bool) -> None:
            self.tuple_out = tuple_out

        def __call__(self, h, attention_mask):
            seen.append(attention_mask)
            return (h + 1,) if self.tuple_out else h + 1  # transformers' both shapes

    class Bert:
        class encoder:  # noqa: N801 - the attribute transformers' BertModel has
            layer = [Layer(True), Layer(False)]

        @staticmethod
        def embeddings(input_ids, token_type_ids):
            return (input_ids + 10 * token_type_ids).to(torch.float32)[..., None]

    ids = torch.tensor([[101, 7, 102], [101, 102, 0]])
    mask = (ids != 0).to(torch.int64)
    types = torch.tensor([[0, 1, 1], [0, 0, 0]])
    h = onnx_export.bert_forward(torch, Bert(), ids, mask, types)
    assert h[..., 0].tolist() == [[103, 19, 114], [103, 104, 2]]  # both layers ran
    assert len(seen) == 2 and seen[0].shape == (2, 1, 1, 3)
    assert seen[0][:, 0, 0].tolist() == [[0, 0, 0], [0, 0, -10000]]


def test_a_model_without_bert_layers_runs_its_own_forward():
    torch = pytest.importorskip("torch")
    calls = []

    class Other:
        def __call__(self, **kw):
            calls.append(sorted(kw))
            return type("Out", (), {"last_hidden_state": "hidden"})()

    ids = torch.tensor([[1, 2]])
    assert onnx_export.bert_forward(torch, Other(), ids, ids, ids) == "hidden"
    assert calls == [["attention_mask", "input_ids", "token_type_ids"]]


# -- one-line errors, versions, make onnx ------------------------------------------------

def test_exporting_without_torch_says_what_to_do_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(DocchatError, match="needs torch and transformers.*"
                                           "DOCCHAT_EMBED_ONNX_DIR") as e:
        onnx_export.export_fp32(tmp_path, tmp_path / "model.fp32.onnx")
    assert "\n" not in str(e.value)


def test_int8_without_onnx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(DocchatError, match="int8 export needs onnx and onnxruntime"):
        quantize_int8(tmp_path / "fp32.onnx", tmp_path / "int8.onnx")


def test_versions_and_digests_recorded_beside_an_export(tmp_path):
    v = versions()
    assert set(v) == {"torch", "transformers", "onnx", "onnxruntime"}
    assert all(isinstance(x, str) and x for x in v.values())
    assert onnx_export._version("no-such-package-docchat") == "none"
    big = tmp_path / "big"
    big.write_bytes(b"x" * (3 << 20))  # read in blocks: past one block
    import hashlib

    assert sha256(big) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()


def test_main_prints_both_files_and_an_unknown_model_is_one_line(tmp_path, monkeypatch,
                                                                   capsys, model):
    for k in [k for k in os.environ if k.startswith("DOCCHAT_")]:
        monkeypatch.delenv(k)
    monkeypatch.setattr(onnx_export, "ensure",
                        lambda src, variant, root: root / src.name / FILES[variant])
    assert onnx_export.main(["--model", str(model), "--dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / "c" / "model" / FILES[v]) for v in ("fp32", "int8")]
    missing = str(tmp_path / "absent")
    assert onnx_export.main(["--model", missing]) == 1
    err = capsys.readouterr().err
    assert err.startswith("docchat: ONNX export skipped: ") and missing in err
    assert err.count("\n") == 1


def test_main_reports_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("DOCCHAT_EMBED_BACKEND", "tensorrt")
    assert onnx_export.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("docchat: ONNX export skipped:") and "DOCCHAT_EMBED_BACKEND" in err
    assert err.count("\n") == 1


def test_the_recorded_sha256_matches_what_build_wrote(model, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "export_fp32",
                        lambda src, dest: dest.write_bytes(b"fp32 graph"))
    monkeypatch.setattr(onnx_export, "quantize_int8",
                        lambda src, dest: dest.write_bytes(b"int8 graph") and ["q"])
    folder = onnx_export.build(model, tmp_path / "key")
    info = json.loads((folder / onnx_export.INFO).read_text())
    assert info["model_dir"] == str(model) and info["int8_nodes"] == ["q"]
    assert info["sha256"] == {v: sha256(folder / name) for v, name in FILES.items()}
    assert info["export_version"] == onnx_export.EXPORT_VERSION


def test_main_reports_a_cache_folder_it_cannot_write_in_one_line(tmp_path, monkeypatch,
                                                                  capsys):
    """make onnx runs this and goes on: a cache folder that cannot be made (here under a
    file; read-only or a full disk alike) is one line, not a traceback."""
    for k in [k for k in os.environ if k.startswith("DOCCHAT_")]:
        monkeypatch.delenv(k)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert onnx_export.main(["--dir", str(blocker / "cache")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("docchat: ONNX export skipped: ") and str(blocker) in err
    assert err.count("\n") == 1
