# The two commands (see README):  make demo   and   make test
# Each sets up .venv on a fresh machine: torch==2.13.0 (CPU build) first, then the package.
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.installed
SHARED  ?= $(abspath ../shared/datasets)
# the real datasets beside the checkout (if there) are where loaders look first
ifneq ($(wildcard $(SHARED)),)
export DEEPSCOPE_DATA ?= $(SHARED)
endif

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "set-up 1/4: a virtual environment in .venv"
	test -x $(PY) || python3 -m venv .venv
	@echo "set-up 2/4: pip"
	$(PIP) install --quiet --upgrade pip
	@echo "set-up 3/4: torch 2.13.0 (the largest download: about a minute)"
	$(PIP) install --quiet torch==2.13.0
	@echo "set-up 4/4: deepscope and its extras (test, sweep, brain, hdf5, ray, export): about a minute"
	$(PIP) install --quiet -e ".[test,sweep,brain,hdf5,ray,export]"
	@# the real datasets beside the checkout: recorded in .venv, so every shell using it finds them
	if [ -d "$(SHARED)" ]; then $(PY) -m deepscope.cli.main datasets use "$(SHARED)"; fi
	touch $(STAMP)

demo: setup
	$(PY) -m deepscope.cli.main demo

test: setup
	DEEPSCOPE_SHARED_DATASETS=$(SHARED) $(PY) -m pytest tests

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf .venv runs .pytest_cache
