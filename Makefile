# Build, test and demo targets of the hyperv.checkpoints collection.
#
#   make test   set up everything (venv, installed collection) and run every check
#   make demo   set up everything, start the simulator with the demo lab, run the showcase
#
# Both work on a fresh machine with Python 3.11 and access to PyPI only.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
PYTHON_VERSION := 3.11
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
# pip inside .venv; the same version ansible-test bootstraps into its sanity venvs.
PIP_VERSION := 24.2
# Installed when requirements-dev.txt or this pin changes (stamp keyed on their hash).
REQ_HASH := $(shell { cat requirements-dev.txt; echo "pip==$(PIP_VERSION) $(PYTHON_VERSION)"; } | sha256sum | cut -c1-16)
VENV_STAMP := $(VENV)/.installed-$(REQ_HASH)

NAMESPACE := hyperv
NAME := checkpoints
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := build/$(NAMESPACE)-$(NAME)-$(VERSION).tar.gz
COLLECTIONS := build/collections
INSTALLED := $(COLLECTIONS)/ansible_collections/$(NAMESPACE)/$(NAME)

# Tools from .venv first. (ANSIBLE_COLLECTIONS_PATH is set only where the installed copy is
# meant: pytest suites import the work tree through build/dev_collections instead.)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_NOCOLOR := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTEST := $(PY) -m pytest
# Extra arguments, e.g. make unit PYTEST_ARGS="-k tree -x", make sanity SANITY_ARGS="--test pylint"
PYTEST_ARGS ?=
SANITY_ARGS ?=
# Directories for `make unit`; missing ones are left out.
UNIT_DIRS := $(wildcard tests/unit tests/simulator)
INTEGRATION_DIRS := $(wildcard tests/integration)

.PHONY: help venv install unit integration sanity lint molecule test demo bench clean

help:
	@echo "make test         venv + install + unit + integration + sanity + lint + molecule"
	@echo "make demo         venv + install, then run playbooks/showcase.yml against hvsim (demo lab)"
	@echo "make venv         create/update .venv (Python $(PYTHON_VERSION)) from requirements-dev.txt"
	@echo "make install      build the collection and install it into $(COLLECTIONS)"
	@echo "make unit         pytest tests/unit tests/simulator"
	@echo "make integration  pytest tests/integration (in-process simulator)"
	@echo "make sanity       ansible-test sanity --local on the installed copy"
	@echo "make lint         ansible-lint (production profile, offline), antsibull-changelog lint, action group check"
	@echo "make molecule     molecule scenarios under extensions/molecule/ (if any)"
	@echo "make bench        the fleet benchmark (tools/bench.py, default size; --full: 20 x 50)"
	@echo "make clean        remove build output and local state (keeps .venv)"

# ---------------------------------------------------------------------------- set-up

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt
	@if [ ! -x "$(PY)" ]; then \
	  if [ -z "$(PYTHON)" ]; then echo "venv: no python3.11 or python3 on PATH" >&2; exit 1; fi; \
	  ver=$$("$(PYTHON)" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  if [ "$$ver" != "$(PYTHON_VERSION)" ]; then \
	    echo "venv: $(PYTHON) is Python $$ver; Python $(PYTHON_VERSION) is required (set PYTHON=...)" >&2; exit 1; fi; \
	  echo "venv: creating $(VENV) with $(PYTHON) (Python $$ver)"; \
	  "$(PYTHON)" -m venv "$(VENV)"; \
	fi
	$(PY) -m pip install --quiet "pip==$(PIP_VERSION)"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "venv: $(VENV) is up to date with requirements-dev.txt"

install: venv
	@rm -rf $(INSTALLED) $(TARBALL)
	@mkdir -p build
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build .
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) $(VENV)/bin/ansible-galaxy collection install --offline --force -p $(COLLECTIONS) $(TARBALL)
	@test -f $(INSTALLED)/MANIFEST.json

# ---------------------------------------------------------------------------- checks

# pytest exit 5 ("no tests collected") is a failure: a suite that collects nothing must not pass.
# tests/unit and tests/simulator run as separate pytest sessions: their test modules are not
# packages, so the same basename in both (test_export.py) would clash in one session.
unit: venv
	@if [ -z "$(UNIT_DIRS)" ]; then echo "unit: no tests/unit or tests/simulator" >&2; exit 1; fi
	@orphans=$$(find tests -path tests/output -prune -o \( -name 'test_*.py' -o -name '*_test.py' \) -print \
	  | grep -v -E '^tests/(unit|simulator|integration)/' || true); \
	if [ -n "$$orphans" ]; then echo "unit: test files outside tests/unit, tests/simulator, tests/integration would never run:" >&2; \
	  echo "$$orphans" >&2; exit 1; fi
	@rc=0; for dir in $(UNIT_DIRS); do \
	  echo "unit: $(PYTEST) $(PYTEST_ARGS) $$dir"; \
	  $(PYTEST) $(PYTEST_ARGS) $$dir || rc=1; \
	done; exit $$rc

integration: venv
	@if [ -z "$(INTEGRATION_DIRS)" ]; then echo "integration: no tests/integration" >&2; exit 1; fi
	$(PYTEST) $(PYTEST_ARGS) $(INTEGRATION_DIRS)

sanity: install
	$(PY) tools/sanity.py $(SANITY_ARGS)

# ansible-lint resolves hyperv.checkpoints.* (modules, roles) from the installed copy: offline,
# it does not install the collection it runs in, and ~/.cache is empty on a fresh machine.
lint: install
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) $(VENV)/bin/ansible-lint --nocolor
	$(VENV)/bin/antsibull-changelog lint
	$(PY) tools/check_action_groups.py

# Scenarios live in extensions/molecule/<scenario>/ (delegated driver; no Docker here).
molecule: install
	@scenarios=""; \
	if [ -d extensions/molecule ]; then \
	  scenarios=$$(cd extensions/molecule && find . -mindepth 2 -maxdepth 2 -name molecule.yml | cut -d/ -f2 | sort); \
	fi; \
	if [ -z "$$scenarios" ]; then echo "molecule: no scenarios under extensions/molecule/ (nothing to run)"; exit 0; fi; \
	cd extensions && rc=0 && for name in $$scenarios; do \
	  echo "molecule: scenario $$name"; \
	  ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 \
	    $(CURDIR)/$(VENV)/bin/molecule test -s "$$name" || { rc=1; echo "molecule: scenario $$name FAILED"; }; \
	  left=$$(pgrep -f "$(CURDIR)/$(VENV)/bin/python[0-9.]* -m hvsim serve" || true); \
	  if [ -n "$$left" ]; then rc=1; echo "molecule: scenario $$name left hvsim running (pids $$left); stopping it"; \
	    kill $$left 2>/dev/null || true; fi; \
	done; exit $$rc

test: venv
	@$(PY) tools/run_stages.py install unit integration sanity lint molecule

# ---------------------------------------------------------------------------- demo etc.

demo: install
	$(PY) tools/demo.py

bench: install
	$(PY) tools/bench.py

clean:
	rm -rf build/collections build/test-logs build/*.tar.gz tests/output .hvsim-state .pytest_cache .hypothesis
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
