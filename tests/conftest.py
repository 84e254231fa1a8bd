"""Shared test helpers: where the project and the shared evaluation data live.

``../shared/eval`` sits beside the repository. Locally a test that needs it is skipped when it
is absent; in CI (``CI=true``) a missing file is a failure, so the suite cannot go green by
silently skipping its integration tests.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"


def need_shared(path: Path) -> Path:
    """``path`` if it exists; else skip the test (or fail it when CI is "true")."""
    path = Path(path)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing: CI must provide ../shared/eval")
        pytest.skip(f"{path} is absent (the shared evaluation data lives beside the repo)")
    return path
