"""The local embedding model run by ONNX Runtime: the same calls as a SentenceTransformer.

rag.embedding.local.Embedder schedules it exactly as it schedules the torch model (two copies,
batches, questions first); this module is one copy: an ONNX Runtime session over the exported
transformer (rag.embedding.onnx_export), the model's own fast tokenizer (``tokenizers``,
truncated at the model's max_seq_length as sentence-transformers truncates), and the mean
pooling + L2 normalisation of the model's sentence-transformers modules in numpy. Neither
torch, transformers nor sentence-transformers is imported.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import DocchatError

#: sentence-transformers' default input limit when sentence_bert_config.json names none.
DEFAULT_MAX_SEQ = 256


@dataclass
class Counters:
    """What the model computed (for benchmarks): batches, tokens with and without padding,
    and the sum of batch x length^2 (the attention's share of the arithmetic)."""
    batches: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    attention_units: int = 0

    def add(self, batch: int, length: int, real: int) -> None:
        self.batches += 1
        self.real_tokens += real
        self.padded_tokens += batch * length
        self.attention_units += batch * length * length


def check_pooling(model_dir: Path) -> None:
    """Refuse a model whose sentence-transformers modules are not what this runs: a
    transformer, mean pooling, optionally Normalize (vectors are normalised anyway)."""
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return  # a bare transformers model: sentence-transformers mean-pools it too
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
    pooling = next((m for m in json.loads(modules.read_text())
                    if m.get("type", "").endswith("Pooling")), None)
    mean = False
    if pooling is not None:
        cfg = json.loads((model_dir / pooling.get("path", "") / "config.json").read_text())
        modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v is True]
        mean = modes == ["pooling_mode_mean_tokens"]
    if kinds[:2] != ["Transformer", "Pooling"] or not mean or \
            any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise DocchatError(f"the ONNX embedding backend runs transformer + mean pooling models "
                           f"only; {model_dir} has {kinds}: use DOCCHAT_EMBED_BACKEND=torch")


def max_seq_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return DEFAULT_MAX_SEQ


def session(onnx_path: Path, threads: int = 0):
    """An ONNX Runtime session on the CPU with every graph optimisation, ``threads`` threads
    per run (0: one per core). Also the span reader's (rag.answering.reader_onnx)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # no warnings about unused initializers on the terminal
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


class OnnxModel:
    """One copy of the model: its own session and tokenizer (use it from one thread at a
    time, as the Embedder does)."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        check_pooling(model_dir)
        self.session = session(onnx_path, threads)
        self.path = Path(onnx_path)
        self.model_dir = Path(model_dir)
        self.max_seq_length = max_seq_length(model_dir)
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_seq_length)
        self._tok = tok
        config = json.loads((model_dir / "config.json").read_text())
        pad = tok.token_to_id("[PAD]")
        self.pad_id = int(pad if pad is not None else config.get("pad_token_id") or 0)
        self.dim = int(config["hidden_size"])
        self.counters = Counters()
        self._hf_tokenizer = None
        self._hf_lock = threading.Lock()

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text is read as (special tokens included, truncated): the Embedder
        groups batches by this, so a batch pads little."""
        return [len(e.ids) for e in self._tok.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               normalize_embeddings: bool = True, convert_to_numpy: bool = True,
               show_progress_bar: bool = False, output_value: str = "sentence_embedding"):
        """Sentence vectors (mean of the token vectors under the attention mask, then unit
        length), or with ``output_value='token_embeddings'`` each text's token vectors
        (special tokens included, no padding), as SentenceTransformer.encode gives them."""
        del convert_to_numpy, show_progress_bar
        texts = list(texts)
        encs = self._tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encs[i].ids))
        tokens: list[np.ndarray | None] = [None] * len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            ids_of = order[start:start + batch_size]
            lens = [len(encs[i].ids) for i in ids_of]
            length = max(lens)
            ids = np.full((len(ids_of), length), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(ids_of), length), dtype=np.int64)
            for row, (i, n) in enumerate(zip(ids_of, lens)):
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            hidden = self.session.run(["token_embeddings"],
                                      {"input_ids": ids, "attention_mask": mask})[0]
            self.counters.add(len(ids_of), length, sum(lens))
            if output_value == "token_embeddings":
                for row, (i, n) in enumerate(zip(ids_of, lens)):
                    tokens[i] = hidden[row, :n]
                continue
            m = mask[:, :, None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            if normalize_embeddings:
                vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            out[ids_of] = vecs
        if output_value == "token_embeddings":
            return tokens
        return out

    @property
    def tokenizer(self) -> "PieceTokenizer":
        """The model's tokenizer with offsets and word ids, called as transformers' fast
        tokenizer is (the alignment's token vectors: rag.answering.alignment); no torch."""
        with self._hf_lock:
            if self._hf_tokenizer is None:
                self._hf_tokenizer = PieceTokenizer(self.model_dir / "tokenizer.json")
            return self._hf_tokenizer


class PieceTokenizer:
    """The calls of a transformers fast tokenizer that rag.answering.alignment makes,
    on ``tokenizers`` directly (transformers imports torch). Not thread-safe (truncation is
    tokenizer state), like the transformers tokenizer it stands in for."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()

    def __call__(self, texts: Sequence[str], truncation: bool = False,
                 max_length: int | None = None,
                 return_offsets_mapping: bool = False) -> "Pieces":
        del return_offsets_mapping  # always there
        if truncation and max_length:
            self._tok.enable_truncation(max_length=max_length)
        else:
            self._tok.no_truncation()
        return Pieces(self._tok.encode_batch(list(texts)))


class Pieces(dict):
    """A batch as transformers' BatchEncoding shows it: ``["input_ids"]``,
    ``["offset_mapping"]`` and ``word_ids(i)``."""

    def __init__(self, encodings) -> None:
        super().__init__(input_ids=[e.ids for e in encodings],
                         offset_mapping=[e.offsets for e in encodings])
        self._encodings = encodings

    def word_ids(self, i: int) -> list[int | None]:
        return self._encodings[i].word_ids
