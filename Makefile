# The two commands of the README: `make demo` (the pipeline, locally) and `make test`.
# Each sets up what it needs: the virtualenv, the packages, the local OpenSearch.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Lambda runs Python 3.13: the first interpreter found that really is 3.13+ (a pyenv shim can
# exist without working), pyenv's own installs included.
PYTHON ?= $(or $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null && { echo $$p; break; }; done),\
	$(error no Python 3.13+ found: install python3.13))
# `sam build` looks for python3.13 on PATH: the virtualenv provides it.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test lint unit native qemu opensearch opensearch-stop opensearch-secure \
	opensearch-multinode bench vrl clean

$(BIN)/logferry: pyproject.toml requirements-dev.txt layers/logferry/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -r layers/logferry/requirements.txt -e .
	touch $@

# The busy formats' parsers compiled in place (layers/native/compile.py), rebuilt when their
# sources, or what they import, change. tests/unit/test_native.py refuses a stale build.
PACKAGE := layers/logferry/logferry
NATIVE := build/native.stamp
$(NATIVE): $(BIN)/logferry layers/native/compile.py $(wildcard $(PACKAGE)/formats/*.py) \
		$(PACKAGE)/model.py $(PACKAGE)/ingest/reader.py
	$(BIN)/python layers/native/compile.py
	touch $@

# The fast path's Rust writers (layers/native/lines.py: logferry.formats._lines), rebuilt when
# the crate changes; without cargo the build says so and every line is parsed in Python.
LINES := build/lines.stamp
$(LINES): $(BIN)/logferry layers/native/lines.py layers/native/lines/Cargo.toml \
		layers/native/lines/Cargo.lock $(wildcard layers/native/lines/src/*.rs)
	$(BIN)/python layers/native/lines.py
	touch $@

native: $(NATIVE) $(LINES)

# tests/aws runs the Lambda's arm64 build of the parsers under qemu (Debian: qemu-user-static);
# without it (no root, no apt) that test is skipped, and says why.
qemu:
	@command -v qemu-aarch64-static >/dev/null || command -v qemu-aarch64 >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq qemu-user-static >/dev/null; } || \
		echo "qemu-user-static could not be installed: the arm64 test will be skipped"

opensearch:
	scripts/opensearch.sh start

opensearch-stop:
	scripts/opensearch.sh stop

# The second node, with the security plugin, TLS and users: tests/security runs against it.
opensearch-secure:
	scripts/opensearch.sh start --secure

# Three nodes of one cluster on loopback (127.0.0.1:9210-9212): tests/multinode runs against it.
opensearch-multinode:
	scripts/opensearch.sh start --nodes 3

demo: $(BIN)/logferry $(NATIVE) $(LINES) opensearch
	$(BIN)/python -m tools.demo

lint: $(BIN)/logferry
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict layers/native

unit: $(BIN)/logferry $(NATIVE) $(LINES)
	$(BIN)/pytest -q tests/unit

test: $(BIN)/logferry $(NATIVE) $(LINES) qemu lint opensearch-secure opensearch-multinode
	LOGFERRY_MULTINODE_REQUIRED=1 $(BIN)/pytest -q tests

# The peer in `make bench`: Vector's VRL parsers (tools/vrl, the vrl crate 0.38.0), built once
# with cargo into tools/vrl/target (git-ignored; later runs rebuild nothing). Without cargo, or
# when the build fails, the bench's VRL column says so and the rest runs; `make test` never
# needs it.
vrl:
	@command -v cargo >/dev/null || { echo "cargo not found: the bench's VRL column will say so"; exit 0; }; \
	cargo build --release --locked --quiet --manifest-path tools/vrl/Cargo.toml || \
		echo "tools/vrl did not build: the bench's VRL column will say so"

bench: $(BIN)/logferry $(NATIVE) $(LINES) opensearch vrl
	$(BIN)/python -m tools.bench

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache build
	find layers -name '*.so' -delete
