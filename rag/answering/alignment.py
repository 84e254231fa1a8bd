"""Alignment of a question with an answer and its passage: each content word of the question
matched to its closest word of a text (the same stem, else the cosine of contextual MiniLM token
vectors: the embedding model's own token output, no other model). Features for
rag.answering.answerability: an unanswerable question is usually about the passage but asks for something
it does not state, so one of its words (often the focus next to the wh-word) has no counterpart.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Callable, ContextManager, Sequence

import numpy as np

from rag.lexical import stopwords, words
from rag.sentences import sentence_spans

Vectors = Callable[[Sequence[str]], np.ndarray]  # texts -> normalised vectors (one per text)
#: texts -> per text its words (lower case) and one normalised vector per word
Tokens = Callable[[Sequence[str]], list[tuple[list[str], np.ndarray]]]
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
#: A question word whose best contextual match in a text is below this cosine is unaligned.
ALIGN_COSINE = 0.5
#: Texts whose word vectors are kept (per embedder): every retrieved sentence goes in (the
#: evidence's pass fills it), about 40 KB each, so a few thousand, not the sentence vectors'
#: 20,000 (1.5 KB each).
_TOKEN_CACHE = 4000

QUESTION_WORDS = frozenset((
    "what which who whom whose when where why how many much did does do done doing were was "
    "has have had having can could would should shall may might must will name named called "
    "kind type sort one ones").split())


def surface(text: str) -> list[str]:
    stop = stopwords() | QUESTION_WORDS
    return [w for w in dict.fromkeys(_TOKEN.findall(text.lower())) if w not in stop]



class TokenVectors:
    """Contextual word vectors of texts from the embedding model itself (sentence-transformers'
    token output; word pieces averaged per word), kept by text. One per embedder.

    ``pooled`` gives sentence vectors from the same pass: the model's sentence vector is the
    mean of its token vectors, unit length (what rag.embedding's mean pooling computes), so
    the evidence's sentence vectors (rag.answering.evidence) and the alignment's word vectors
    of the retrieved sentences come from one encode instead of two."""

    def __init__(self, model_call: Callable[[], ContextManager]) -> None:
        self._model_call = model_call  # a context giving the model for one call at a time
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
        with self._lock:  # what is cached now is taken now: encoding the rest may evict it
            have = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for t in have:
                self._cache.move_to_end(t)  # least recently used goes first
        missing = [t for t in dict.fromkeys(texts) if t not in have]
        done = self._encode(missing)[0] if missing else {}
        return [done[t] if t in done else have[t] for t in texts]

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        """Unit sentence vectors of ``texts`` (one row each), keeping their word vectors."""
        unique = list(dict.fromkeys(texts))
        _, vecs = self._encode(unique)
        row = {t: i for i, t in enumerate(unique)}
        return vecs[[row[t] for t in texts]]

    def _encode(self, texts: list[str]) -> tuple[dict, np.ndarray]:
        """Encode ``texts`` once: their (words, word vectors), cached, and their sentence
        vectors (mean of the token vectors, unit length)."""
        with self._model_call() as model:  # its tokenizer is not thread-safe
            tok = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length,
                                  return_offsets_mapping=True)
            embs = model.encode(texts, output_value="token_embeddings", batch_size=32,
                                show_progress_bar=False)
        done: dict[str, tuple[list[str], np.ndarray]] = {}
        sentence = []
        for i, (text, emb) in enumerate(zip(texts, embs)):
            emb = np.asarray(emb.float().cpu().numpy() if hasattr(emb, "cpu") else emb)
            mean = emb.mean(axis=0) if len(emb) else np.zeros(emb.shape[1], np.float32)
            sentence.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            spans: dict[int, list[int]] = {}
            for j, w in enumerate(tok.word_ids(i)):
                if w is not None and j < len(emb):
                    spans.setdefault(w, []).append(j)
            offs = tok["offset_mapping"][i]
            ws = [text[offs[js[0]][0]:offs[js[-1]][1]].lower() for js in spans.values()]
            vecs = np.stack([emb[js].mean(axis=0) for js in spans.values()]) \
                if spans else np.zeros((0, emb.shape[1]), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
            done[text] = (ws, vecs.astype(np.float32))
        with self._lock:
            self._cache.update(done)
            while len(self._cache) > _TOKEN_CACHE:
                self._cache.popitem(last=False)
        return done, np.asarray(sentence, dtype=np.float32).reshape(len(texts), -1)


def _static_tokens(vectors: Vectors) -> Tokens:
    """Word vectors without context (each word embedded alone): for a ``vectors`` function
    that has no model behind it (tests)."""
    def tokens(texts: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
        out = []
        for t in texts:
            ws = _TOKEN.findall(t.lower())
            out.append((ws, vectors(ws) if ws else np.zeros((0, 1))))
        return out
    return tokens


def tokens_for(vectors: Vectors) -> Tokens:
    """Contextual token vectors from the model behind ``vectors`` (a rag.answering.evidence
    SentenceVectors), kept on its embedder; word-by-word vectors when it has no model."""
    memo = token_memo(getattr(vectors, "embedder", None))
    return memo if memo is not None else _static_tokens(vectors)


def token_memo(embedder) -> TokenVectors | None:
    """The embedder's TokenVectors (kept on it), or None when it has no model of its own
    here (a remote embedder, a test's function)."""
    foreground = getattr(embedder, "foreground", None)  # rag.embedding.local.Embedder's model copy
    if foreground is None:
        return None
    memo = getattr(embedder, "token_vectors", None)
    if memo is None:
        memo = TokenVectors(foreground)
        try:
            embedder.token_vectors = memo
        except AttributeError:
            pass
    return memo


_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)


def focus_word(question: str, content: Sequence[str]) -> str | None:
    """The question's focus: its first content word after the wh-word ("What *year*...",
    "How many *people*..."), else its first content word."""
    m = _WH.search(question)
    after = _TOKEN.findall(question[m.end():].lower()) if m else []
    for w in after:
        if w in content:
            return w
    return content[0] if content else None


def _alignment(q_words: list[str], q_vecs: np.ndarray, content: Sequence[str],
               texts: list[tuple[list[str], np.ndarray]]) -> dict[str, float]:
    """Best match of each question content word among the content words of ``texts``: 1 for
    the same stem, else the best cosine of the contextual vectors (0 when there are none)."""
    stop = stopwords() | QUESTION_WORDS
    ws = [w for t in texts for w in t[0]]
    vs = np.concatenate([t[1] for t in texts]) if texts else np.zeros((0, q_vecs.shape[1]))
    keep = [i for i, w in enumerate(ws) if _TOKEN.fullmatch(w) and w not in stop]
    stems = set(words(" ".join(ws[i] for i in keep)))
    out: dict[str, float] = {}
    sims = q_vecs @ vs[keep].T if keep and len(q_vecs) else None
    for i, w in enumerate(q_words):
        if w not in content:
            continue
        st = words(w)
        if st and set(st) <= stems:
            best = 1.0
        else:
            best = float(sims[i].max()) if sims is not None else 0.0
        out[w] = max(out.get(w, 0.0), best)
    return out


def _split(text: str) -> list[str]:
    return [" ".join(text[a:b].split()) for a, b in sentence_spans(text) if text[a:b].strip()]


def alignment(tokens: Tokens, question: str, answer: Sequence[str], passages: Sequence[str]
              ) -> dict[str, float]:
    """The align_* / unaligned_* / focus_* / novel_answer features (see Features)."""
    content = surface(question)
    psents = [s for p in passages for s in _split(p)]
    got = tokens([question, *answer, *psents])
    (q_words, q_vecs), a_toks, p_toks = got[0], got[1:1 + len(answer)], got[1 + len(answer):]
    a = _alignment(q_words, q_vecs, content, a_toks)
    p = _alignment(q_words, q_vecs, content, p_toks)
    av, pv = sorted(a.values()) or [1.0], sorted(p.values()) or [1.0]
    focus = focus_word(question, list(a))
    # the answer's content words that no question word aligns with: what it adds
    stop = stopwords() | QUESTION_WORDS
    aw = [(w, v) for t in a_toks for w, v in zip(t[0], t[1])
          if _TOKEN.fullmatch(w) and w not in stop]
    qi = [i for i, w in enumerate(q_words) if w in a]
    if aw and qi:
        s = np.stack([v for _, v in aw]) @ q_vecs[qi].T
        novel = float(np.mean(s.max(axis=1) < ALIGN_COSINE))
    else:
        novel = 1.0 if aw else 0.0
    return {
        "align_answer_min": av[0], "align_answer_second": av[1] if len(av) > 1 else 1.0,
        "align_answer_mean": float(np.mean(av)), "align_passage_min": pv[0],
        "align_passage_mean": float(np.mean(pv)),
        "unaligned_answer": float(sum(v < ALIGN_COSINE for v in a.values())),
        "unaligned_passage": float(sum(v < ALIGN_COSINE for v in p.values())),
        "focus_answer": a.get(focus, 1.0) if focus else 1.0,
        "focus_passage": p.get(focus, 1.0) if focus else 1.0,
        "novel_answer": novel,
    }

