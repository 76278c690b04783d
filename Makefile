# Two commands matter: `make run` (serve the app) and `make test` (set up and run the whole suite).
# Both create .venv and install the pinned requirements once; a stamp file skips it next time.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast lint model data bench browser screenshots clean-venv

# The pinned lock, then compat itself in editable mode (no dependencies of its own: the lock has them all),
# which puts the `compat` command in .venv/bin.
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) app.py

# Debian's chromium for the browser tests, installed when missing and we are root (never a downloaded
# browser). Without it the browser tests skip on a developer machine and fail in CI (CI=true).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "could not install chromium"; \
	fi

test: $(VENV)/.dev browser
	$(PY) -m pytest

# The edit loop: everything but the tests that start the app, train or drive a browser (markers in pyproject.toml).
test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not slow and not browser"

# ruff: pycodestyle, pyflakes and import order (settings in pyproject.toml)
lint: $(VENV)/.dev
	$(PY) -m ruff check .

# The shipped data set and the shipped fine-tuned model, both reproducible from a seed.
data: $(VENV)/.runtime
	$(PY) -m compat generate --out data --seed 0 --groups 1000

# The model is a soup (`compat soup`): three seeds of the default preset, their weights averaged. Seeds 0 and 1
# train side by side on one thread each (faster in all than one after the other), then seed 2 on both.
MODEL_RUNS := build/model-runs
TRAIN_DEFAULT := $(PY) -m compat train --data data --extra-test data/natural_pairs.jsonl --preset default --force
model: $(VENV)/.runtime
	OMP_NUM_THREADS=1 $(TRAIN_DEFAULT) --seed 0 --out $(MODEL_RUNS)/seed0 --quiet & first=$$!; \
	OMP_NUM_THREADS=1 $(TRAIN_DEFAULT) --seed 1 --out $(MODEL_RUNS)/seed1 --quiet & second=$$!; \
	wait $$first; a=$$?; wait $$second; b=$$?; test $$a = 0 && test $$b = 0
	$(TRAIN_DEFAULT) --seed 2 --out $(MODEL_RUNS)/seed2 --quiet
	$(PY) -m compat soup $(MODEL_RUNS)/seed0 $(MODEL_RUNS)/seed1 $(MODEL_RUNS)/seed2 --out assets/models/default --force

# One PNG per tab in assets/screenshots/, from the real app in Debian's headless chromium (README pictures).
screenshots: $(VENV)/.dev browser
	$(PY) bench/screenshots.py

bench: $(VENV)/.dev
	$(PY) bench/run_all.py

clean-venv:
	rm -rf $(VENV)
