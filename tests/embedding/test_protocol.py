"""What every embedder is (rag/embedding/protocol.py): the packaged model, a server and a
test's fake all pass as an Embedder, a thing without any one of its members does not, and the
protocol costs no numpy to import (docchat --help must stay light)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, clean_env
from fakes import HashEmbedder

from rag.embedding.protocol import Embedder
from rag.settings import DEFAULT_MODEL, Settings


MEMBERS = ("name", "dim", "encode", "warm_up")


def test_the_local_model_a_server_and_the_fake_are_embedders():
    """Looked up statically: on Python 3.11, isinstance() with this protocol reads ``dim``,
    which loads the model or calls the server."""
    import inspect

    from rag.embedding.local import Embedder as Local
    from rag.embedding.remote import RemoteEmbedder

    made = [Local(DEFAULT_MODEL), RemoteEmbedder(Settings(embed_url="http://127.0.0.1:9/v1")),
            HashEmbedder(dim=4)]
    for embedder in made:
        for member in MEMBERS:
            inspect.getattr_static(embedder, member)  # AttributeError when it lacks one
    assert isinstance(made[2], Embedder)


class Complete:
    name = "complete"
    dim = 3

    def encode(self, texts, progress=False, on_batch=None, background=False):
        return [[1.0, 0.0, 0.0] for _ in texts]

    def warm_up(self):
        pass


@pytest.mark.parametrize("missing", MEMBERS)
def test_a_thing_without_one_of_the_members_is_not_an_embedder(missing):
    assert isinstance(Complete(), Embedder)
    lacking = type("Lacking", (), {k: v for k, v in vars(Complete).items() if k != missing})
    assert not isinstance(lacking(), Embedder)


def test_importing_the_protocol_loads_no_numpy():
    probe = ("import sys, rag.embedding.protocol as p; "
             "print(p.Embedder.__name__, 'numpy' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, env=clean_env(PYTHONPATH=str(ROOT)), timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["Embedder", "False"]
