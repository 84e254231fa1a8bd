"""Shared test helpers: project paths, the shared evaluation data, running the CLI, PDFs.

``../shared/eval`` sits beside the repository. Locally a test that needs it is skipped when it
is absent; in CI (``CI=true``) a missing file is a failure, so the suite cannot go green by
silently skipping its integration tests.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"
# hypothesis (under schemathesis) keeps its files in build/, not in a new folder at the root
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / "build" / "hypothesis"))


def need_shared(path: Path) -> Path:
    """``path`` if it exists; else skip the test (or fail it when CI is "true")."""
    path = Path(path)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing: CI must provide ../shared/eval")
        pytest.skip(f"{path} is absent (the shared evaluation data lives beside the repo)")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any DOCCHAT_* setting of the caller, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCCHAT_")}
    env.update(extra)
    return env


def docchat(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            **popen) -> subprocess.CompletedProcess:
    """Run ``python -m rag ARGS`` in a fresh process, capturing its output."""
    return subprocess.run([sys.executable, "-m", "rag", *map(str, args)], capture_output=True,
                          text=True, env=env or clean_env(), timeout=timeout, **popen)


def make_pdf(pages: list[str | None]) -> bytes:
    """A PDF with one page per item: its text, or (None) only a drawn shape, no text layer."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for text in pages:
        if text is None:
            pdf.rect(100, 100, 300, 300, fill=1)
        else:
            pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory):
    """An index of the seed article (one per test module)."""
    from rag import Settings
    from rag.index import Index

    root = tmp_path_factory.mktemp("seed") / "index"
    idx = Index.open(root, Settings.from_env(index_dir=str(root)), create=True)
    idx.update([ROOT / "seeds" / "crocus-city-hall-attack.txt"])
    return idx


@pytest.fixture
def immutable():
    """``immutable(path, ...)`` makes files and folders unwritable even for root (tests run as
    root here, and root writes through chmod: `chattr +i`, the immutable attribute), undone at
    teardown. Skips the test where the attribute cannot be set (not root, no ext4/xfs)."""
    done: list[Path] = []

    def make(*paths: Path) -> None:
        for p in paths:
            r = subprocess.run(["chattr", "+i", str(p)], capture_output=True, text=True)
            if r.returncode and not os.path.lexists(p):
                continue  # gone since it was listed (SQLite's -shm/-wal come and go)
            if r.returncode:
                pytest.skip(f"cannot make {p} immutable here (chattr: {r.stderr.strip()})")
            done.append(Path(p))

    yield make
    for p in reversed(done):
        subprocess.run(["chattr", "-i", str(p)], capture_output=True)
