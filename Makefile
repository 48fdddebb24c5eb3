# MedAssist: `make run` serves it with demo data; `make test` runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean-data docker-wheels ohif ohif-dir

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
	$(VENV)/bin/pytest tests --ignore=tests/ml -q -n auto --maxprocesses 4 --dist worksteal

clean-data:
	rm -rf var

# The OHIF Viewer's built app (the npm package @ohif/app, its dist/), fetched by npm into a
# cache outside the checkout and checked against the pinned integrity. MedAssist serves it
# to doctors when MEDASSIST_OHIF_DIR names that dist/ folder, which `make ohif` prints.
OHIF_VERSION := 3.13.2
OHIF_INTEGRITY := sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA==
OHIF_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/medassist/ohif
OHIF_DIR := $(OHIF_CACHE)/$(OHIF_VERSION)/package/dist
OHIF_TGZ := $(OHIF_CACHE)/ohif-app-$(OHIF_VERSION).tgz

ohif: $(OHIF_DIR)/index.html
	@echo "MEDASSIST_OHIF_DIR=$(OHIF_DIR)"

ohif-dir:
	@echo "$(OHIF_DIR)"

$(OHIF_DIR)/index.html:
	mkdir -p "$(OHIF_CACHE)"
	cd "$(OHIF_CACHE)" && npm pack --silent "@ohif/app@$(OHIF_VERSION)" >/dev/null
	@python3 -c 'import base64, hashlib, sys; \
		got = "sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(); \
		sys.exit(0 if got == sys.argv[2] else f"{sys.argv[1]}: integrity {got}, expected {sys.argv[2]}")' \
		"$(OHIF_TGZ)" "$(OHIF_INTEGRITY)"
	rm -rf "$(OHIF_CACHE)/$(OHIF_VERSION)" "$(OHIF_CACHE)/$(OHIF_VERSION).tmp"
	mkdir "$(OHIF_CACHE)/$(OHIF_VERSION).tmp"
	tar -xzf "$(OHIF_TGZ)" -C "$(OHIF_CACHE)/$(OHIF_VERSION).tmp"
	mv "$(OHIF_CACHE)/$(OHIF_VERSION).tmp" "$(OHIF_CACHE)/$(OHIF_VERSION)"

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
