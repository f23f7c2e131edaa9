# The two commands a learner needs (see README):
#   make course   set up, fetch MNIST, train and grade the reference solutions
#   make test     set up, run the project's own test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup data course grade test lint derive docs bench seeds

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev,docs]"
	touch $@

setup: $(BIN)/.installed data

data: $(BIN)/.installed
	$(BIN)/python -m tinycnn data

course: setup
	@for d in checks/i*/; do \
	  $(BIN)/python -m pytest $$d --impl=solutions -p no:cacheprovider \
	    || exit 1; \
	done

test: setup lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .

derive: $(BIN)/.installed
	$(BIN)/python -m tools derive

docs: $(BIN)/.installed
	$(BIN)/python -m tools docs

bench: setup
	$(BIN)/python benchmarks/train_speed.py --json benchmarks/results/train_speed-cpu.json

seeds: setup
	$(BIN)/python benchmarks/seeds.py
