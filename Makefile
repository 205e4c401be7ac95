# Two commands on a fresh machine:  make run  (install and start the tutor)  ·  make test  (install and run the tests)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test bench screenshots clean

run: $(VENV)/.installed
	$(BIN)/loss-tutor

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python -m tutor.bench

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 is pinned in pyproject.toml: on a CPU machine pip takes the local CPU wheel.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e ".[test]"
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) build *.egg-info
