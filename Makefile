# Bootstrap and everyday commands. Needs only python3.11 and make; everything else lands in .venv/.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: venv bytecode demo demo-serve test test-fast lint typecheck lock bench clean

# Bytecode is compiled at install (uv does not by default, unlike pip): without it every process
# compiles its imports from source, about a second of CPU each, and when PYTHONDONTWRITEBYTECODE
# is set (as in many CI images) it pays that on every start.
$(BIN)/.installed: requirements.lock pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

# The project's own modules, compiled the same way; a source newer than its bytecode is
# recompiled here, so this is cheap when nothing changed.
PACKAGES := connectors model rules pipelines handoff sandbox bench tests
bytecode: $(BIN)/.installed
	$(BIN)/python -m compileall -q -j 0 $(PACKAGES)

venv: $(BIN)/.installed bytecode

demo: venv
	$(BIN)/handoff demo

demo-serve: venv
	$(BIN)/handoff demo --serve

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# Four workers on two cores: most tests wait on sandbox servers, subprocesses and PostgreSQL.
# loadgroup keeps a module's tests that share a module-scoped fixture on one worker.
PYTEST_PARALLEL := -n 4 --dist loadgroup

test: venv lint typecheck
	$(BIN)/pytest -q --durations=15 $(PYTEST_PARALLEL)

# The quick loop: tests not marked slow, no lint or type check (`make lint typecheck` for those).
test-fast: venv
	$(BIN)/pytest -q -m "not slow" $(PYTEST_PARALLEL)

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 -o requirements.lock

bench: venv
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data .handoff-demo
