"""The span reader: which passage holds the answer, where exactly, and whether any does.

The packaged all-MiniLM-L6-v2 (the embedding model's own weights, no other model) fine-tuned
here as an extractive QA reader: question (cut at 64 tokens) and passage in one input, a start
and an end score per passage token, the "no answer" score at [CLS] and a no-answer head. A
passage's margin is its best span's score (start + end, at most 30 tokens long) minus the
no-answer score; p = sigmoid(w0 * margin + w1 * no_answer_logit + w2), fit on calibration
articles. rag.answer reads every retrieved passage in one batched pass: the best span picks
the answer's first sentence and is marked in it; no passage above the threshold: abstain.

Only the low-rank updates (LoRA, rank 16, on every linear layer of the six blocks) and the
heads are stored (rag/answering/models/reader.safetensors, ~1.3 MB, with reader.json: data,
recipe, calibration); they are added to a fresh copy of the packaged weights when the reader is
first used. Trained by benchmarks/train_reader.py on SQuAD 1.1 train and negatives made from
it (docs/quality.md).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from rag.errors import DocchatError
from rag.per_process import PerProcess

log = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent / "models"
WEIGHTS, META = DOCS / "reader.safetensors", DOCS / "reader.json"
MAX_TOKENS = 256  # question + passage window, as trained; a longer passage is read in windows
MAX_QUESTION_TOKENS = 64  # a longer question is cut (never an error: the API allows 2,000 chars)
STRIDE = 96  # tokens shared by consecutive windows of a long passage
MAX_SPAN = 30  # tokens in an answer span


@dataclass(frozen=True)
class Reading:
    """The reader's view of one passage: p that it holds an answer to the question, and the
    best answer span it found (``start``/``end``: character offsets into the passage text)."""

    probability: float
    margin: float  # best span score minus the no-answer score
    span: str
    start: int = 0
    end: int = 0
    no_answer: float = 0.0  # the no-answer head's logit (positive: an answer is there)


TRAINED_BY = {"reader": "train_reader.py", "checker": "train_checker.py",
              "support": "train_support.py"}


def unreadable(weights: Path, error: Exception) -> str:
    """The one line for a model of this shape (reader, answer checker, support checker) whose
    files cannot be read, naming the script that rebuilds that model."""
    script = TRAINED_BY.get(weights.stem, "train_reader.py")
    return (f"the model {weights.name} cannot be read ({error}); rebuild it: "
            f"python benchmarks/{script} train")


class SpanReader:
    """One per process and backend (``shared()``): the packaged MiniLM with the trained updates
    added, run by torch or, with DOCCHAT_EMBED_BACKEND=onnx / onnx-int8, by ONNX Runtime
    (the same model exported once, rag.answering.reader_onnx: no torch in the process). Both
    read the same tokens (the model's own ``tokenizers`` tokenizer)."""

    def __init__(self, weights: Path = WEIGHTS, meta: Path = META, backend: str = "torch",
                 threads: int = 0, onnx_dir: str = "") -> None:
        from rag.embedding.model_files import model_dir

        try:
            info = json.loads(Path(meta).read_text(encoding="utf-8"))
            Path(weights).stat()
        except (OSError, ValueError) as e:
            raise DocchatError(unreadable(Path(weights), e)) from e
        base = model_dir(info["base"])
        self.info = info
        self.max_tokens = int(info.get("max_len", MAX_TOKENS))
        self.windows = PairWindows(base / "tokenizer.json", self.max_tokens,
                                   int(info.get("stride", STRIDE)))
        self.backend = "torch" if backend == "torch" else "onnx"  # 'auto': onnx, torch if it fails
        if self.backend == "onnx":
            from rag.answering.reader_onnx import OnnxHeads, ensure

            try:
                self.heads: Heads = OnnxHeads(ensure(Path(weights), Path(meta), onnx_dir),
                                              threads)
            except Exception as e:  # noqa: BLE001 - auto runs on torch whatever failed
                if backend != "auto":
                    raise
                log.warning("the reader cannot run on ONNX (%s): running it on torch", e)
                self.backend = "torch"
        if self.backend == "torch":
            self.heads = TorchHeads(Path(weights), info, base)
        #: p = sigmoid(w0 * margin + w1 * no_answer_logit + w2), fit on the calibration articles
        cal = info.get("calibration", {}).get("weights")
        self.weights = tuple(cal) if cal else (*info.get("platt", (1.0, 0.0))[:1], 0.0,
                                               *info.get("platt", (1.0, 0.0))[1:])

    @classmethod
    def shared(cls, settings=None, name: str = "reader") -> "SpanReader":
        """The process's model ``name`` (rag/answering/models/<name>.safetensors and .json:
        the reader, or the answer checker trained in the same shape) for ``settings``'
        backend (torch when none is given)."""
        backend = "torch" if settings is None else backend_of(settings)
        threads = settings.embed_threads if settings is not None else 0
        onnx_dir = settings.embed_onnx_dir if settings is not None else ""

        def make() -> SpanReader:
            log.info("loading the %s (%s)", name, backend)
            return cls(DOCS / f"{name}.safetensors", DOCS / f"{name}.json", backend=backend,
                       threads=threads, onnx_dir=onnx_dir)

        return _READERS.get((name, backend, threads, onnx_dir), make)

    def warm_up(self) -> None:
        """Loading happened in ``__init__``; one tiny pass makes the first question fast."""
        self.read("warm up", ["Warm up."])

    def probability(self, margin: float, no_answer: float) -> float:
        w0, w1, w2 = self.weights
        return float(1.0 / (1.0 + np.exp(-(w0 * margin + w1 * no_answer + w2))))

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """One Reading per passage, all passages in one batched pass (a passage longer than
        the input is read in overlapping windows; its best window counts). Any question
        length is accepted: past 64 tokens the question is cut, as in training."""
        if not passages:
            return []
        win = self.windows(question, passages)
        se, cls = self.heads(win.ids, win.mask, win.types)
        best: dict[int, Reading] = {}
        n = se.shape[1]
        allowed = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_SPAN)
        for i, p in enumerate(win.owner):
            ctx = win.context[i]
            start, end = se[i, :, 0], se[i, :, 1]
            null = float(start[0] + end[0])
            pair = np.where(ctx, start, -np.inf)[:, None] + np.where(ctx, end, -np.inf)[None, :]
            pair = np.where(allowed, pair, -np.inf)
            s, e = divmod(int(np.argmax(pair)), n)
            margin = float(pair[s, e]) - null
            a, b = int(win.offsets[i][s][0]), int(win.offsets[i][e][1])
            r = Reading(round(self.probability(margin, float(cls[i])), 4), round(margin, 4),
                        passages[p][a:b], a, b, round(float(cls[i]), 4))
            if p not in best or r.probability > best[p].probability:
                best[p] = r
        return [best[p] for p in range(len(passages))]


@dataclass(frozen=True)
class Windows:
    """The reader's input for one question: a row per window (token ids, attention mask,
    token types, which tokens are the passage's), the passage each row reads (``owner``) and
    its tokens' character offsets in that passage."""

    ids: np.ndarray
    mask: np.ndarray
    types: np.ndarray
    context: np.ndarray
    owner: list[int]
    offsets: list[list[tuple[int, int]]]


class PairWindows:
    """The reader's tokeniser (the model's own ``tokenizers`` tokenizer: transformers would
    import torch), giving what transformers' fast tokenizer gave in training: question and
    passage pairs truncated ``only_second``, a long passage in windows overlapping by
    STRIDE tokens, the question cut after its 64th token. Safe to share between threads."""

    def __init__(self, tokenizer_json: Path, max_tokens: int = MAX_TOKENS,
                 stride: int = STRIDE) -> None:
        from tokenizers import Tokenizer

        self._questions = Tokenizer.from_file(str(tokenizer_json))
        self._questions.no_truncation()
        self._questions.no_padding()
        self._pairs = Tokenizer.from_file(str(tokenizer_json))
        self._pairs.no_padding()
        self._pairs.enable_truncation(max_length=max_tokens, stride=safe_stride(max_tokens, stride),
                                      strategy="only_second")
        pad = self._pairs.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else int(pad)

    def question(self, question: str) -> str:
        """The question cut after its 64th token (as in training), at that token's end."""
        enc = self._questions.encode(question, add_special_tokens=False)
        if len(enc.ids) <= MAX_QUESTION_TOKENS:
            return question
        return question[:enc.offsets[MAX_QUESTION_TOKENS - 1][1]]

    def __call__(self, question: str, passages: Sequence[str]) -> Windows:
        """The model's inputs: one row per window (``owner``: its passage), padded to one
        length."""
        encs = self._pairs.encode_batch([(self.question(question), p) for p in passages])
        rows = [(i, w) for i, e in enumerate(encs) for w in [e, *e.overflowing]]
        n = max(len(w.ids) for _, w in rows)
        ids = np.full((len(rows), n), self.pad_id, dtype=np.int64)
        types = np.zeros((len(rows), n), dtype=np.int64)
        mask = np.zeros((len(rows), n), dtype=np.int64)
        context = np.zeros((len(rows), n), dtype=bool)
        for r, (_, w) in enumerate(rows):
            k = len(w.ids)
            ids[r, :k], types[r, :k], mask[r, :k] = w.ids, w.type_ids, w.attention_mask
            context[r, :k] = [s == 1 for s in w.sequence_ids]
        return Windows(ids, mask, types, context, [i for i, _ in rows],
                       [w.offsets for _, w in rows])


def safe_stride(max_tokens: int, stride: int) -> int:
    """The overlap of a long passage's windows: ``stride`` when a passage window of an input
    with a question of the most tokens is longer than it, else half that window (the
    tokenizer refuses, with a panic, a stride as long as the window: a model trained on
    short inputs, such as the answer checker's 160 tokens, would crash on a long question
    with a long sentence)."""
    room = max_tokens - MAX_QUESTION_TOKENS - 3  # [CLS] question [SEP] passage [SEP]
    return stride if room > stride else max(1, room // 2)


class Heads(Protocol):
    """The model with its heads: token ids, attention mask and token types (rows x tokens)
    in; each token's start and end scores (rows x tokens x 2) and each row's no-answer logit
    (rows) out."""

    def __call__(self, ids: np.ndarray, mask: np.ndarray,
                 types: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class TorchHeads:
    """The reader on torch: the packaged weights with the low-rank updates added."""

    def __init__(self, weights: Path, info: dict, base: Path) -> None:
        import torch

        self.model, self.qa, self.cls = merged_model(weights, info, base)
        self._torch = torch

    def __call__(self, ids, mask, types):
        torch = self._torch
        with torch.inference_mode():
            hidden = self.model(input_ids=torch.from_numpy(ids),
                                attention_mask=torch.from_numpy(mask),
                                token_type_ids=torch.from_numpy(types)).last_hidden_state
            se = (hidden @ self.qa[0].T + self.qa[1]).numpy()
            cls = (hidden[:, 0] @ self.cls[0].T + self.cls[1]).numpy().reshape(-1)
        return se, cls


def merged_model(weights: Path, info: dict, base: Path, eager: bool = False):
    """(the packaged model with ``W + scale * B A`` in every adapted layer, (qa weight, bias),
    (no-answer weight, bias)): torch modules and tensors."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on the terminal
    try:
        state = load_file(str(weights))
    except (OSError, ValueError, SafetensorError) as e:  # SafetensorError: not a safetensors file
        raise DocchatError(unreadable(weights, e)) from e
    extra = {"attn_implementation": "eager"} if eager else {}  # eager: one graph to export
    model = AutoModel.from_pretrained(str(base), local_files_only=True, **extra).eval()
    scale = float(info["lora_scale"])
    with torch.no_grad():
        for name, module in model.named_modules():
            a = state.get(f"{name}.a")
            if a is not None:  # W' = W + scale * B A
                module.weight += scale * (state[f"{name}.b"].float() @ a.float())
    return (model, (state["qa.weight"].float(), state["qa.bias"].float()),
            (state["cls.weight"].float(), state["cls.bias"].float()))


_READERS: PerProcess[tuple, SpanReader] = PerProcess("span readers")


def backend_of(settings) -> str:
    """The reader runs where the embedding model runs: torch with torch, else ONNX Runtime
    (fp32 always: the int8 recipe is the embedder's, checked for its vectors, not for the
    reader's spans); 'auto' as the embedder resolves it, falling back to torch when the
    export fails."""
    from rag.embedding.model_files import resolve_backend

    backend = settings.embed_backend
    resolved = resolve_backend(backend, settings.embed_model)
    return "auto" if backend == "auto" and resolved != "torch" else resolved


def enabled(settings) -> bool:
    """The reader runs when its threshold is above 0 and the embeddings are computed here:
    with a remote embedding server (DOCCHAT_EMBED_URL) docchat loads no model of its own
    (no torch in the process), so the check is skipped."""
    return settings.reader_threshold > 0 and not settings.embed_url
