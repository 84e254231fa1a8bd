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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import DocchatError

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


class SpanReader:
    """One per process (``shared()``); the packaged MiniLM with the trained updates added."""

    _instance: "SpanReader | None" = None
    _lock = threading.Lock()

    def __init__(self, weights: Path = WEIGHTS, meta: Path = META) -> None:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from rag.embedding.local import model_dir

        try:
            info = json.loads(Path(meta).read_text(encoding="utf-8"))
            state = load_file(str(weights))
        except (OSError, ValueError) as e:
            raise DocchatError(f"the reader {weights.name} cannot be read ({e}); rebuild it: "
                               "python benchmarks/train_reader.py train") from e
        base = model_dir(info["base"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(base), local_files_only=True).eval()
        scale = float(info["lora_scale"])
        with torch.no_grad():
            for name, module in self.model.named_modules():
                a = state.get(f"{name}.a")
                if a is not None:  # W' = W + scale * B A
                    b = state[f"{name}.b"]
                    module.weight += scale * (b.float() @ a.float())
        self.qa_w, self.qa_b = state["qa.weight"].float(), state["qa.bias"].float()
        self.cls_w, self.cls_b = state["cls.weight"].float(), state["cls.bias"].float()
        self.info = info
        self.max_tokens = int(info.get("max_len", MAX_TOKENS))
        #: p = sigmoid(w0 * margin + w1 * no_answer_logit + w2), fit on the calibration articles
        cal = info.get("calibration", {}).get("weights")
        self.weights = tuple(cal) if cal else (*info.get("platt", (1.0, 0.0))[:1], 0.0,
                                               *info.get("platt", (1.0, 0.0))[1:])
        self._call = threading.Lock()  # the tokenizer is not safe to share between threads
        self._torch = torch

    @classmethod
    def shared(cls) -> "SpanReader":
        with cls._lock:
            if cls._instance is None:
                log.info("loading the reader (%s)", WEIGHTS.name)
                cls._instance = cls()
            return cls._instance

    def warm_up(self) -> None:
        """Loading happened in ``__init__``; one tiny pass makes torch's first call fast."""
        self.read("warm up", ["Warm up."])

    def probability(self, margin: float, no_answer: float) -> float:
        w0, w1, w2 = self.weights
        return float(1.0 / (1.0 + np.exp(-(w0 * margin + w1 * no_answer + w2))))

    def _question(self, question: str) -> str:
        toks = self.tokenizer.tokenize(question)
        if len(toks) <= MAX_QUESTION_TOKENS:
            return question
        return self.tokenizer.convert_tokens_to_string(toks[:MAX_QUESTION_TOKENS])

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """One Reading per passage, all passages in one batched pass (a passage longer than
        the input is read in overlapping windows; its best window counts). Any question
        length is accepted: past 64 tokens the question is cut, as in training."""
        if not passages:
            return []
        torch = self._torch
        with self._call, torch.inference_mode():
            q = self._question(question)
            enc = self.tokenizer([q] * len(passages), list(passages),
                                 truncation="only_second", max_length=self.max_tokens,
                                 stride=STRIDE, return_overflowing_tokens=True,
                                 return_offsets_mapping=True, padding=True,
                                 return_tensors="pt")
            owner = enc.pop("overflow_to_sample_mapping").tolist()
            offsets = enc.pop("offset_mapping").tolist()
            seq = [enc.sequence_ids(i) for i in range(len(owner))]
            hidden = self.model(**enc).last_hidden_state
            se = (hidden @ self.qa_w.T + self.qa_b).numpy()
            cls = (hidden[:, 0] @ self.cls_w.T + self.cls_b).numpy().reshape(-1)
        best: dict[int, Reading] = {}
        n = se.shape[1]
        allowed = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_SPAN)
        for i, p in enumerate(owner):
            ctx = np.array([s == 1 for s in seq[i]] + [False] * (n - len(seq[i])))
            start, end = se[i, :, 0], se[i, :, 1]
            null = float(start[0] + end[0])
            pair = np.where(ctx, start, -np.inf)[:, None] + np.where(ctx, end, -np.inf)[None, :]
            pair = np.where(allowed, pair, -np.inf)
            s, e = divmod(int(np.argmax(pair)), n)
            margin = float(pair[s, e]) - null
            a, b = int(offsets[i][s][0]), int(offsets[i][e][1])
            r = Reading(round(self.probability(margin, float(cls[i])), 4), round(margin, 4),
                        passages[p][a:b], a, b, round(float(cls[i]), 4))
            if p not in best or r.probability > best[p].probability:
                best[p] = r
        return [best[p] for p in range(len(passages))]


def enabled(settings) -> bool:
    """The reader runs when its threshold is above 0 and the embeddings are computed here:
    with a remote embedding server (DOCCHAT_EMBED_URL) docchat loads no model of its own
    (no torch in the process), so the check is skipped."""
    return settings.reader_threshold > 0 and not settings.embed_url
