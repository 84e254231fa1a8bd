"""rag/answering/reader_onnx.py without exporting the model: where an export is cached (a
folder named by the weights' content, the graph's part of the record, the base model's
export and READER_EXPORT_VERSION), that it is made once (also by two threads at once),
atomically, with its record; the one-line errors (a record or weights that cannot be read,
no torch to export with, no onnxruntime to run); ``make onnx``'s main; and OnnxHeads over a
tiny hand-built graph with the reader's inputs and outputs, also under a SpanReader. The real
reader on ONNX against torch is in test_reader.py."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag.answering import reader_onnx
from rag.answering.reader_onnx import FILE, OnnxHeads, build, ensure, export_folder
from rag.answering.span_reader import META, PairWindows, SpanReader
from rag.embedding import onnx_export
from rag.embedding.model_files import model_dir
from rag.errors import DocchatError


@pytest.fixture
def model(tmp_path) -> tuple[Path, Path]:
    """(weights, record): a copy of the shipped reader's record, weights of a few bytes."""
    weights, meta = tmp_path / "reader.safetensors", tmp_path / "reader.json"
    weights.write_bytes(b"reader weights v1")
    meta.write_text(META.read_text(encoding="utf-8"), encoding="utf-8")
    return weights, meta


def fake_export(calls: list | None = None, delay: float = 0.0):
    def export(weights: Path, meta: Path, dest: Path) -> None:
        if calls is not None:
            calls.append(dest)
        time.sleep(delay)
        dest.write_bytes(b"onnx of " + weights.read_bytes())
    return export


# -- the cache folder --------------------------------------------------------------------

def test_the_folder_is_named_by_a_hash_under_the_cache_root(tmp_path, model):
    folder = export_folder(*model, tmp_path / "cache")
    assert folder.parent == tmp_path / "cache"
    assert folder.name.startswith("reader-") and len(folder.name) == len("reader-") + 20
    assert export_folder(*model, tmp_path / "cache") == folder  # the same reader, the same


def test_a_new_base_model_export_or_export_version_exports_the_reader_anew(tmp_path, model,
                                                                            monkeypatch):
    first = export_folder(*model, tmp_path)
    monkeypatch.setattr(onnx_export, "export_key", lambda d: "another-base-export")
    assert export_folder(*model, tmp_path) != first
    monkeypatch.undo()
    monkeypatch.setattr(reader_onnx, "READER_EXPORT_VERSION",
                        reader_onnx.READER_EXPORT_VERSION + 1)
    assert export_folder(*model, tmp_path) != first


def test_the_record_order_and_provenance_do_not_matter(tmp_path, model):
    weights, meta = model
    first = export_folder(weights, meta, tmp_path)
    info = json.loads(meta.read_text(encoding="utf-8"))
    reordered = dict(reversed(list(info.items())))
    meta.write_text(json.dumps({**reordered, "train_seconds": 1, "threshold": 0.9}))
    assert export_folder(weights, meta, tmp_path) == first
    meta.write_text(json.dumps({**info, "targets": info["targets"][:2]}))  # another graph
    assert export_folder(weights, meta, tmp_path) != first


# -- ensure and build --------------------------------------------------------------------

@pytest.mark.parametrize("broken", ["record", "weights"])
def test_a_record_or_weights_that_cannot_be_read_is_one_line_naming_the_script(
        tmp_path, model, broken):
    weights, meta = model
    if broken == "record":
        meta.write_text("{ not json", encoding="utf-8")
    else:
        weights.unlink()
    with pytest.raises(DocchatError) as e:
        ensure(weights, meta, str(tmp_path / "cache"))
    msg = str(e.value)
    assert "\n" not in msg and "reader.safetensors cannot be read" in msg
    assert "python benchmarks/train_reader.py train" in msg
    assert not (tmp_path / "cache").exists()


def test_ensure_exports_once_then_finds_the_cached_file(tmp_path, model, monkeypatch):
    calls: list = []
    monkeypatch.setattr(reader_onnx, "export", fake_export(calls))
    cache = tmp_path / "cache"
    path = ensure(*model, str(cache))
    assert path.name == FILE and path.parent.parent == cache and path.is_file()
    assert path.read_bytes() == b"onnx of reader weights v1"
    assert ensure(*model, str(cache)) == path and len(calls) == 1
    weights, _ = model
    weights.write_bytes(b"retrained")  # another reader: another folder, exported again
    again = ensure(*model, str(cache))
    assert again != path and len(calls) == 2 and path.is_file()


def test_two_threads_needing_the_export_at_once_export_it_once(tmp_path, model, monkeypatch):
    calls: list = []
    monkeypatch.setattr(reader_onnx, "export", fake_export(calls, delay=0.2))
    got: list[Path] = []
    threads = [threading.Thread(target=lambda: got.append(ensure(*model, str(tmp_path))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(got) == 3 and len(set(got)) == 1


def test_build_records_the_export_beside_the_file(tmp_path, model, monkeypatch):
    monkeypatch.setattr(reader_onnx, "export", fake_export())
    weights, meta = model
    folder = build(weights, meta, tmp_path / "reader-x")
    assert sorted(p.name for p in folder.iterdir()) == ["export.json", FILE]
    info = json.loads((folder / "export.json").read_text())
    assert info["export_version"] == reader_onnx.READER_EXPORT_VERSION
    assert info["weights"] == str(weights)
    assert info["sha256"] == hashlib.sha256((folder / FILE).read_bytes()).hexdigest()
    assert set(info["versions"]) >= {"torch", "onnxruntime"}


def test_an_export_that_fails_leaves_nothing_behind_and_is_tried_again(tmp_path, model,
                                                                       monkeypatch):
    def broken(weights, meta, dest):
        dest.write_bytes(b"half a file")
        raise RuntimeError("out of memory")

    monkeypatch.setattr(reader_onnx, "export", broken)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="out of memory"):
        ensure(*model, str(cache))
    assert list(cache.iterdir()) == []  # no half folder, no temporary one
    monkeypatch.setattr(reader_onnx, "export", fake_export())
    assert ensure(*model, str(cache)).is_file()


def test_exporting_without_torch_says_what_to_install_or_set(tmp_path, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(DocchatError, match="needs torch.*DOCCHAT_EMBED_BACKEND=torch") as e:
        reader_onnx.export(*model, tmp_path / FILE)
    assert "\n" not in str(e.value)


# -- make onnx ---------------------------------------------------------------------------

def test_main_exports_the_three_models_and_reports_a_failure_in_one_line_each(
        monkeypatch, capsys):
    def fake(weights: Path, meta: Path, onnx_dir: str = "") -> Path:
        if weights.stem == "checker":
            raise DocchatError("the model checker.safetensors cannot be read (gone)")
        return Path("/cache") / weights.stem / FILE

    monkeypatch.setattr(reader_onnx, "ensure", fake)
    assert reader_onnx.main() == 1  # make setup goes on; the exit status says it failed
    out, err = capsys.readouterr()
    assert out.split() == [f"/cache/reader/{FILE}", f"/cache/support/{FILE}"]
    assert err == ("docchat: ONNX export of the checker skipped: the model "
                   "checker.safetensors cannot be read (gone)\n")
    monkeypatch.setattr(reader_onnx, "ensure", lambda w, m, d="": Path("/cache") / w.stem)
    assert reader_onnx.main() == 0


# -- running the export ------------------------------------------------------------------

def toy_reader_graph(path: Path) -> None:
    """The reader's inputs and outputs: start_end[r, t] = (id x type, id x type) as floats
    (the passage token with the highest id is the best one-token span), no_answer[r] = the
    number of tokens the mask keeps."""
    import onnx
    from onnx import TensorProto, helper

    def cast(src, dst):
        return helper.make_node("Cast", [src], [dst], to=TensorProto.FLOAT)

    nodes = [
        helper.make_node("Mul", ["input_ids", "token_type_ids"], ["scored"]),
        cast("scored", "scored_f"),
        helper.make_node("Unsqueeze", ["scored_f", "last"], ["col"]),
        helper.make_node("Concat", ["col", "col"], ["start_end"], axis=2),
        cast("attention_mask", "mask_f"),
        helper.make_node("ReduceSum", ["mask_f", "tokens_axis"], ["no_answer"], keepdims=0),
    ]
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["rows", "tokens"])
            for n in ("input_ids", "attention_mask", "token_type_ids")]
    graph = helper.make_graph(
        nodes, "toy_reader", ints,
        [helper.make_tensor_value_info("start_end", TensorProto.FLOAT, ["rows", "tokens", 2]),
         helper.make_tensor_value_info("no_answer", TensorProto.FLOAT, ["rows"])],
        [helper.make_tensor("last", TensorProto.INT64, [1], [2]),
         helper.make_tensor("tokens_axis", TensorProto.INT64, [1], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("toy") / FILE
    toy_reader_graph(path)
    return path


def test_onnx_heads_feed_the_three_inputs_and_give_per_token_scores_and_one_logit(toy):
    heads = OnnxHeads(toy, threads=1)
    ids = np.array([[101, 7, 102, 9, 102], [101, 7, 102, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    types = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], dtype=np.int64)
    se, cls = heads(ids, mask, types)
    assert se.shape == (2, 5, 2) and cls.shape == (2,)
    assert se[0, :, 0].tolist() == [0, 0, 0, 9, 102] and (se[..., 0] == se[..., 1]).all()
    assert cls.tolist() == [5, 3]


def test_a_span_reader_on_onnx_reads_with_the_exported_file(toy, tmp_path, monkeypatch):
    weights, meta = tmp_path / "reader.safetensors", tmp_path / "reader.json"
    weights.write_bytes(b"w")
    meta.write_text(META.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(reader_onnx, "ensure", lambda w, m, onnx_dir="": toy)
    reader = SpanReader(weights, meta, backend="onnx", threads=1)
    assert reader.backend == "onnx" and isinstance(reader.heads, OnnxHeads)
    passage = "Zebras graze beside the aardvark."
    windows = PairWindows(model_dir("all-MiniLM-L6-v2") / "tokenizer.json")
    win = windows("zzz?", [passage])
    best = max((i for i in range(len(win.offsets[0])) if win.context[0, i]),
               key=lambda i: win.ids[0, i])
    a, b = win.offsets[0][best]
    r = reader.read("zzz?", [passage])[0]
    assert (r.start, r.end, r.span) == (a, b, passage[a:b])


def test_the_reader_on_onnx_without_onnxruntime_says_how_to_get_it(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(DocchatError, match="needs onnxruntime.*pip install onnxruntime.*"
                                           "DOCCHAT_EMBED_BACKEND=torch"):
        OnnxHeads(tmp_path / FILE)


def test_main_reports_a_cache_folder_it_cannot_write_in_one_line_per_model(tmp_path,
                                                                           monkeypatch, capsys):
    """make onnx goes on after this: a cache folder that cannot be made (read-only, under a
    file, a full disk) is one line per model, not a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DOCCHAT_EMBED_ONNX_DIR", str(blocker / "cache"))
    monkeypatch.setattr(reader_onnx, "export", fake_export())  # never reached
    assert reader_onnx.main() == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 3, err
    for name, line in zip(("reader", "checker", "support"), lines):
        assert line.startswith(f"docchat: ONNX export of the {name} skipped: ")
        assert str(blocker) in line
