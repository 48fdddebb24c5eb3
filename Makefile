# MedAssist: `make run` serves it with demo data; `make test` runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean-data

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing pulls a CUDA build in its place.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py serve

# The real services of the machine; CI sets the same.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/medassist
test: export REDIS_URL ?= redis://127.0.0.1:6379/15
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	# medassist.ml is tested without Django at all.
	$(VENV)/bin/pytest tests/ml -p no:django --confcutdir=tests/ml -q
	$(VENV)/bin/pytest tests --ignore=tests/ml -q

clean-data:
	rm -rf var
