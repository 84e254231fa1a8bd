"""The local embedding model as ONNX files, exported once from its own weights and cached.

``model.fp32.onnx``: the transformer (token embeddings out; mean pooling and normalisation are
done in numpy by rag.embedding.onnx_model, as sentence-transformers does for this model),
exported by torch's TorchScript exporter from the packaged safetensors. ``model.int8.onnx``:
the same graph with ONNX Runtime's dynamic int8 quantisation (int8 weights per output channel,
activations quantised per batch) of the linear layers named in INT8_LINEARS only.

Both are written into a temporary folder beside the cache folder and renamed into place, so a
reader sees all of an export or none of it, and two processes exporting at once both end up
with one complete folder. The folder's name is a hash of the model's files (name, size,
mtime), EXPORT_VERSION and the onnxruntime version: changing any of them exports anew. The
export needs torch (and onnx for the quantisation); running the files needs neither.

    python -m rag.embedding.onnx_export [--model NAME_OR_DIR] [--dir CACHE_DIR]   (make onnx)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

from rag.errors import DocchatError

log = logging.getLogger(__name__)

#: Bump when the export or the quantisation below changes what the files contain.
EXPORT_VERSION = 1
OPSET = 17
FILES = {"fp32": "model.fp32.onnx", "int8": "model.int8.onnx"}
INFO = "export.json"
#: The linear layers quantised to int8 (substrings of the exported MatMul nodes' names): the
#: attention projections. Quantising the feed-forward layers too (dynamic int8 quantises each
#: batch's activations with one scale per tensor, and MiniLM's feed-forward inputs have
#: outlier dimensions) gave a minimum cosine of 0.961-0.984 to the fp32 vectors on short and
#: non-English texts, under the 0.99 gate; these four per layer keep it at 0.991
#: (docs/embeddings.md, benchmarks/bench_encoder.py --int8-study, tests/embedding/test_onnx.py).
INT8_LINEARS = ("attention/self/query/", "attention/self/key/", "attention/self/value/",
                "attention/output/dense/")
#: What int8 the weights are and how they are scaled: per output channel (one scale per tensor
#: gave a minimum cosine of 0.90).
PER_CHANNEL = True
#: Weights in 7 bits, not 8. Without VNNI (AVX2 only: this machine class), ONNX Runtime's u8 x
#: s8 kernel adds pairs of products in int16 with saturation, so full-range 8-bit weights can
#: overflow: on such a CPU per-channel 8-bit weights put a tiny test graph's output 711 off
#: (tests/embedding/test_onnx_export.py) and took the gate texts' minimum cosine to 0.9913,
#: against 0.9929 in 7 bits (docs/embeddings.md). 7 bits cannot overflow, so the int8 model
#: gives the same vectors with VNNI or without.
REDUCE_RANGE = True


def cache_root(configured: str = "") -> Path:
    """Where exports are cached: ``configured`` (DOCCHAT_EMBED_ONNX_DIR), else var/docchat/onnx
    under the Python environment (the venv) when it is writable, else ~/.cache/docchat/onnx."""
    if configured:
        return Path(configured).expanduser()
    prefix = Path(sys.prefix)
    if os.access(prefix, os.W_OK):
        return prefix / "var" / "docchat" / "onnx"
    return Path.home() / ".cache" / "docchat" / "onnx"


def export_key(model_dir: Path) -> str:
    """The cache folder's name for ``model_dir``: a hash of its files' names, sizes and
    mtimes, EXPORT_VERSION, the int8 recipe and the onnxruntime version (cheap: no file is
    read, so a process that finds its export pays nothing for the check)."""
    h = hashlib.sha256()
    h.update(f"v{EXPORT_VERSION} opset{OPSET} {INT8_LINEARS} {PER_CHANNEL} {REDUCE_RANGE} "
             f"ort{_version('onnxruntime')}".encode())
    h.update(str(model_dir.resolve()).encode())
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"\0{f.relative_to(model_dir)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def ensure(model_dir: Path, variant: str, root: Path) -> Path:
    """The ONNX file of ``variant`` ('fp32' or 'int8') for ``model_dir``, exported into
    ``root`` first when it is not there yet."""
    folder = root / export_key(model_dir)
    target = folder / FILES[variant]
    if not target.is_file():
        build(model_dir, folder)
    return target


def build(model_dir: Path, folder: Path) -> Path:
    """Export ``model_dir`` into ``folder`` (both files and export.json), atomically."""
    log.warning("exporting the embedding model %s to ONNX in %s (once)", model_dir, folder)

    def fill(tmp: Path) -> None:
        export_fp32(model_dir, tmp / FILES["fp32"])
        nodes = quantize_int8(tmp / FILES["fp32"], tmp / FILES["int8"])
        info = {"model_dir": str(model_dir), "export_version": EXPORT_VERSION, "opset": OPSET,
                "int8_nodes": nodes, "per_channel": PER_CHANNEL,
                "reduce_range": REDUCE_RANGE,
                "versions": versions(), "sha256": {v: sha256(tmp / name)
                                                   for v, name in FILES.items()}}
        (tmp / INFO).write_text(json.dumps(info, indent=1) + "\n")

    return atomic_folder(folder, fill, list(FILES.values()))


def atomic_folder(folder: Path, fill: Callable[[Path], None], required: list[str]) -> Path:
    """Write ``folder`` all at once: ``fill`` writes a temporary folder beside it, which is
    synced and renamed into place; when another process renamed its own first (it holds every
    ``required`` file), that one stands."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        fill(tmp)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not all((folder / n).is_file() for n in required):
                raise  # not another process's finished export: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def versions() -> dict[str, str]:
    """The versions of the packages an export depends on (recorded beside it)."""
    return {p: _version(p) for p in ("torch", "transformers", "onnx", "onnxruntime")}


def export_fp32(model_dir: Path, dest: Path) -> None:
    """torch.onnx.export of the transformer: inputs input_ids and attention_mask (batch x
    sequence, int64), output token_embeddings (batch x sequence x hidden)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise DocchatError("exporting the embedding model to ONNX needs torch and transformers "
                           "(make setup installs them); or copy an export made elsewhere into "
                           "DOCCHAT_EMBED_ONNX_DIR") from e
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # eager attention: one plain graph (no SDPA kernel choice) for the exporter to trace
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                     attn_implementation="eager").eval()
    ids = torch.tensor([[101, 7592, 2088, 1012, 102], [101, 7592, 102, 0, 0]])
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _encoder(torch, bert), (ids, mask), str(dest), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["token_embeddings"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "token_embeddings": {0: "batch", 1: "sequence"}},
            do_constant_folding=True)


def _encoder(torch, bert):
    """The model's forward with token types 0 and BERT's additive attention mask (-10000 on
    padding, as sentence-transformers' single-text inputs have)."""

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return bert_forward(torch, self.bert, input_ids, attention_mask,
                                torch.zeros_like(input_ids))

    return Encoder()


def bert_forward(torch, bert, input_ids, attention_mask, token_type_ids):
    """The last hidden state, layer by layer for a BERT model (one plain graph for the
    exporter to trace: BERT's additive mask, -10000 on padding), else its own forward. Also
    the span reader's export (rag.answering.reader_onnx), whose inputs are pairs."""
    layers = getattr(getattr(bert, "encoder", None), "layer", None)
    if layers is None:
        return bert(input_ids=input_ids, attention_mask=attention_mask,
                    token_type_ids=token_type_ids).last_hidden_state
    h = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    additive = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * -10000.0
    for layer in layers:
        out = layer(h, attention_mask=additive)
        h = out[0] if isinstance(out, tuple) else out
    return h


def quantize_int8(src: Path, dest: Path, linears: tuple[str, ...] = INT8_LINEARS) -> list[str]:
    """Dynamic int8 quantisation of the MatMuls of ``linears`` (those with a weight
    initializer: never the attention's activation x activation products)."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise DocchatError("the int8 export needs onnx and onnxruntime (make setup installs "
                           "them)") from e
    model = onnx.load(str(src))
    weights = {t.name for t in model.graph.initializer}
    nodes = [n.name for n in model.graph.node if n.op_type == "MatMul"
             and any(i in weights for i in n.input) and any(k in n.name for k in linears)]
    if not nodes:
        raise DocchatError(f"no linear layer of {src} matches {linears}: the int8 "
                           "export supports BERT-like models only")
    del model
    with _quiet_root_logger():  # "consider pre-processing": advice for CNN static quantisation
        quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8,
                         per_channel=PER_CHANNEL, reduce_range=REDUCE_RANGE,
                         op_types_to_quantize=["MatMul"],
                         nodes_to_quantize=nodes,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return nodes


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def main(argv: list[str] | None = None) -> int:
    from rag.embedding.model_files import model_dir
    from rag.settings import Settings

    try:
        settings = Settings.from_env()
        ap = argparse.ArgumentParser(description="Export the embedding model to ONNX (cached).")
        ap.add_argument("--model", default=settings.embed_model)
        ap.add_argument("--dir", default=settings.embed_onnx_dir)
        a = ap.parse_args(argv)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        src = model_dir(a.model)
        for variant in FILES:
            print(ensure(src, variant, cache_root(a.dir)))
    except (DocchatError, OSError) as exc:  # OSError: a cache that cannot be written, a full
        # disk. One line (make setup goes on: torch needs no export)
        print(f"docchat: ONNX export skipped: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
