# The two commands of the README, and what they need. Both create and reuse .venv.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: quickstart test test-fast lint setup

# Creates .venv and installs cinerec with its test tools. torch is pinned to 2.13.0: the
# CPU build where a local index holds it, the default (CUDA) build from plain PyPI; see
# the README for installing the CPU build first.
$(STAMP): pyproject.toml scripts/setup-venv
	PY=$(PY) scripts/setup-venv $(VENV)
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/cinerec quickstart $(if $(DATA),--data $(DATA)) $(ARGS)

test: $(STAMP)
	scripts/ensure-chromium
	scripts/ensure-postgres
	$(VENV)/bin/python -m pytest $(ARGS)

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow and not browser" $(ARGS)

# ruff (pyflakes, pycodestyle, bugbear) and mypy over the sources; CI runs it too.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy
