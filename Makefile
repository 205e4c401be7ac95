# Two commands on a fresh machine:  make run  (install and start the tutor)  ·  make test  (install and run the tests)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test bench bench-workshop screenshots clean

run: $(VENV)/.installed
	$(BIN)/loss-tutor

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2

bench: $(VENV)/.installed
	$(BIN)/python -m bench

# `loss-tutor serve` under a room's load: 30 SSH clients on loopback (bench/workshop.py). It reads their
# screens with pyte, a test dependency, so it installs that too.
bench-workshop: $(VENV)/.installed
	$(BIN)/python -m pip install --disable-pip-version-check --quiet "pyte>=0.8"
	$(BIN)/python -m bench.workshop

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Everything the installed package is built from: `make run` reinstalls when any of it changes.
SOURCES := pyproject.toml $(shell find tutor lessons -type f ! -path '*/__pycache__/*')

# torch==2.13.0 is pinned in pyproject.toml: on a CPU machine pip takes the local CPU wheel.
# `make run` installs the package as a user would (not editable): an editable install adds a path hook
# that costs every Python start 14 ms, the tutor's first frame and its model process alike.
# `make test` installs it editable, so the tests run against the source tree. Each removes the
# other's stamp, as each replaces the other's install.
# build/ is cleared first: setuptools reuses it, and a module deleted from the source would stay installed.
$(VENV)/.installed: $(SOURCES) | $(BIN)/python
	rm -rf build
	$(BIN)/python -m pip install --disable-pip-version-check --quiet .
	rm -f $(VENV)/.installed-test
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e ".[test]"
	rm -f $(VENV)/.installed
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
