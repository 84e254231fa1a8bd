"""What every embedder is: the seam between indexing/answering and the model behind it.

The packaged local model (rag.embedding.local.Embedder) and a remote OpenAI-compatible server
(rag.embedding.remote.RemoteEmbedder) both satisfy it, and so does a test's fake: an Index can be
handed any of them (``Index(folder, embedder=...)``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    import numpy as np


@runtime_checkable
class Embedder(Protocol):
    #: The model's identity as recorded in an index's manifest (a change means a full rebuild).
    name: str

    @property
    def dim(self) -> int:
        """The vectors' dimension."""

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int, int], None] | None = None,
               background: bool = False) -> "np.ndarray":
        """Unit vectors (float32, one row per text). ``background``: an indexing call, which
        yields to questions; ``on_batch(done, total)`` after each batch."""

    def warm_up(self) -> None:
        """Make the first real call fast (load the model); nothing to do for a remote one."""
