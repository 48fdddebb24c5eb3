# MedAssist: `make run` serves it with demo data; `make test` runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean-data docker-wheels

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

# The CPU torch wheel this machine installs (its pip configuration: a local index or mirror),
# for docker/Dockerfile to install instead of downloading; for the image's Python 3.11 on
# Debian bookworm x86_64, whatever the local Python.
docker-wheels: $(STAMP)
	mkdir -p docker/wheels
	$(VENV)/bin/pip download --quiet --no-deps --only-binary=:all: \
		--python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
		--dest docker/wheels torch==2.13.0
	@ls docker/wheels/torch-2.13.0+cpu-*.whl || \
		{ echo "docker/wheels has no torch-2.13.0+cpu wheel: the image downloads torch instead"; exit 1; }
