# Two entry points do the whole set-up on a fresh machine (see README):
#   make demo   -> virtual env, CPU torch unless one is present, dcpt, then `dcpt demo`
#   make test   -> the same set-up, then ruff, mypy and both test tiers (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Override to pick another torch build, e.g. `make setup TORCH_SPEC="torch==2.5.1"`.
TORCH_SPEC ?= torch==2.13.0
DEMO_ARGS ?=

.PHONY: setup demo lint test test-fast test-slow clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: if a torch is already importable (a GPU user's own build), keep it; otherwise install
# the pinned CPU build so that the loose `torch>=2.1` requirement below pulls nothing more.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/dcpt demo $(DEMO_ARGS)

# Code health: a lint finding, a format drift or a type error fails `make test` (and CI).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two tiers: the fast tier is plain `pytest` (slow tests skip themselves); the slow tier is the
# tests marked `slow`. `make test` (what CI runs) is lint + both tiers.
test-fast: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q --runslow -m slow

test: lint test-fast test-slow

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
