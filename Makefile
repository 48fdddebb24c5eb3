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

# Every wheel the image needs, from this machine's pip configuration (its index, mirror or
# local files): the CPU torch wheel and the project's dependencies and build backend, so
# docker/Dockerfile builds without reaching any index (a hospital behind a firewall, or an
# intercepting proxy whose certificate the image does not hold). For the image's Python 3.11
# on Debian bookworm x86_64: run it with Python 3.11 on x86_64 Linux. async-timeout is what
# redis needs on Pythons before 3.11.3 (Debian's own 3.11.2), which this Python may not be.
docker-wheels: $(STAMP)
	mkdir -p docker/wheels
	$(VENV)/bin/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print("\n".join(["torch==2.13.0", *p["project"]["dependencies"], \
		*p["build-system"]["requires"], "async-timeout>=4.0.3"]))' \
		> docker/wheels/requirements.txt
	$(VENV)/bin/pip wheel --quiet --wheel-dir docker/wheels -r docker/wheels/requirements.txt
	@ls docker/wheels/torch-2.13.0+cpu-*.whl || \
		{ echo "docker/wheels has no torch-2.13.0+cpu wheel: the image downloads torch instead"; exit 1; }
	@echo "docker/wheels: $$(ls docker/wheels/*.whl | wc -l) wheels, $$(du -sh docker/wheels | cut -f1)"
