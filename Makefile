# The two commands a learner needs (see README):
#   make course   set up, fetch MNIST, train and grade the reference solutions
#   make test     set up, run the project's fast tests (make test-all: every
#                 test, as CI runs them)
# Each is `python make.py COMMAND` (make.py: the same without make, on any OS).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MAKEPY := $(PY) make.py --venv $(VENV)

.PHONY: setup install data course check test test-rest test-all lint derive docs bench seeds

setup data course check test test-rest test-all lint install:
	$(MAKEPY) $@

derive: install
	$(BIN)/python -m tools derive

docs: install
	$(BIN)/python -m tools docs

bench: setup
	$(BIN)/python benchmarks/train_speed.py --json benchmarks/results/train_speed-cpu.json

seeds: setup
	$(BIN)/python benchmarks/seeds.py
