"""The span reader on ONNX Runtime: the trained reader exported once, cached, run without torch.

``reader.onnx`` is the packaged MiniLM with the reader's low-rank updates added and its two
heads on top (rag.answering.span_reader.merged_model): token ids, attention mask and token
types in; start/end scores per token and the no-answer logit out. The export goes through
torch's TorchScript exporter, layer by layer as the embedding model's export does
(rag.embedding.onnx_export.bert_forward), into ``<cache>/reader-<key>/`` beside the embedding
model's exports (DOCCHAT_EMBED_ONNX_DIR, else the venv). The key hashes the reader's weights
(by content), the parts of its record that shape the graph (GRAPH_KEYS: not its calibration),
the packaged model's export key and READER_EXPORT_VERSION: a retrained reader exports anew,
a recalibrated one does not. The answer checker (rag.answering.answer_check), trained in the
reader's shape, is exported the same way. Written to a temporary folder and renamed into place.

    python -m rag.answering.reader_onnx    (make onnx)
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from rag.errors import DocchatError

log = logging.getLogger(__name__)

#: Bump when the export below changes what the file contains.
READER_EXPORT_VERSION = 1
FILE = "reader.onnx"
#: What of the record shapes the exported graph (the rest is calibration and provenance).
GRAPH_KEYS = ("base", "lora_rank", "lora_scale", "targets")


def export_folder(weights: Path, meta: Path, root: Path) -> Path:
    from rag.embedding.model_files import model_dir
    from rag.embedding.onnx_export import export_key

    info = json.loads(meta.read_text(encoding="utf-8"))
    h = hashlib.sha256(f"reader v{READER_EXPORT_VERSION}".encode())
    h.update(weights.read_bytes())
    graph = {k: info.get(k) for k in GRAPH_KEYS}  # not its calibration or record: no re-export
    h.update(json.dumps(graph, sort_keys=True).encode())
    h.update(export_key(model_dir(info["base"])).encode())
    return root / f"reader-{h.hexdigest()[:20]}"


_EXPORTING = threading.Lock()  # the reader, the answer checker and the support checker


def ensure(weights: Path, meta: Path, onnx_dir: str = "") -> Path:
    """The reader's ONNX file, exported first when it is not in the cache yet."""
    from rag.answering.span_reader import unreadable
    from rag.embedding.onnx_export import cache_root

    try:
        folder = export_folder(weights, meta, cache_root(onnx_dir))
    except (OSError, ValueError) as e:
        raise DocchatError(unreadable(weights, e)) from e
    if not (folder / FILE).is_file():
        with _EXPORTING:  # one export at a time: torch's exporter keeps global state, and
            if not (folder / FILE).is_file():  # two at once would double the peak memory
                build(weights, meta, folder)
    return folder / FILE


def build(weights: Path, meta: Path, folder: Path) -> Path:
    from rag.embedding.onnx_export import atomic_folder, sha256, versions

    log.warning("exporting the span reader to ONNX in %s (once)", folder)

    def fill(tmp: Path) -> None:
        export(weights, meta, tmp / FILE)
        (tmp / "export.json").write_text(json.dumps(
            {"weights": str(weights), "export_version": READER_EXPORT_VERSION,
             "versions": versions(), "sha256": sha256(tmp / FILE)}, indent=1) + "\n")

    return atomic_folder(folder, fill, [FILE])


def export(weights: Path, meta: Path, dest: Path) -> None:
    try:
        import torch
    except ImportError as e:
        raise DocchatError("exporting the reader to ONNX needs torch (make setup installs "
                           "it); or run it with DOCCHAT_EMBED_BACKEND=torch") from e
    from rag.answering.span_reader import merged_model
    from rag.embedding.model_files import model_dir
    from rag.embedding.onnx_export import OPSET, bert_forward

    info = json.loads(meta.read_text(encoding="utf-8"))
    bert, (qa_w, qa_b), (cls_w, cls_b) = merged_model(weights, info, model_dir(info["base"]),
                                                      eager=True)

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = bert_forward(torch, self.bert, input_ids, attention_mask, token_type_ids)
            return h @ qa_w.T + qa_b, (h[:, 0] @ cls_w.T + cls_b)[:, 0]

    ids = torch.tensor([[101, 2054, 102, 7592, 2088, 102], [101, 2054, 102, 7592, 102, 0]])
    mask = (ids != 0).to(torch.int64)
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Reader(), (ids, mask, types), str(dest), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["start_end", "no_answer"],
            dynamic_axes={"input_ids": {0: "rows", 1: "tokens"},
                          "attention_mask": {0: "rows", 1: "tokens"},
                          "token_type_ids": {0: "rows", 1: "tokens"},
                          "start_end": {0: "rows", 1: "tokens"}, "no_answer": {0: "rows"}},
            do_constant_folding=True)


class OnnxHeads:
    """The exported reader in an ONNX Runtime session (rag.answering.span_reader.Heads)."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        from importlib.util import find_spec

        from rag.embedding.onnx_model import session

        if find_spec("onnxruntime") is None:
            raise DocchatError("the reader on ONNX needs onnxruntime, which is not installed: "
                               "pip install onnxruntime, or DOCCHAT_EMBED_BACKEND=torch")
        self.session = session(path, threads)

    def __call__(self, ids: np.ndarray, mask: np.ndarray,
                 types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        se, cls = self.session.run(["start_end", "no_answer"], {
            "input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return se, cls.reshape(-1)


def main() -> int:
    from rag.answering.span_reader import DOCS
    from rag.settings import Settings

    rc = 0
    for name in ("reader", "checker", "support"):  # the span reader and the two checkers
        try:
            print(ensure(DOCS / f"{name}.safetensors", DOCS / f"{name}.json",
                         Settings.from_env().embed_onnx_dir))
        except (DocchatError, OSError) as exc:  # OSError: a cache that cannot be written,
            # a full disk. One line (make setup goes on: torch needs no export)
            print(f"docchat: ONNX export of the {name} skipped: {exc}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
