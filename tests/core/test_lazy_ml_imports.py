"""torch and transformers load only where a model runs, never in a page or a request.

Each check runs in a fresh Python process, because this test process has long since imported
both. A web process is what gunicorn makes of ``medassist.wsgi``: with
``MEDASSIST_WEB_SERVES_TRIAGE_MODEL`` on it loads the triage model when it starts; off, it
never imports torch or transformers and the nurse gets the rules' suggestion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from diagnosis.triage.models import TriageAssessment
from tests.conftest import ROOT
from tests.diagnosis.triage.helpers import triage_champion_answering

ML_LIBRARIES = ("torch", "transformers")

URL_TREE = """
import json, sys
import django
django.setup()
import medassist.urls  # includes every app's urls, so every view module
print(json.dumps({name: name in sys.modules for name in sys.argv[1:]}))
"""

# A web process as gunicorn starts it, then a nurse's intake as its first request. Should
# the process have loaded the text model at start, loading a checkpoint now is refused: it
# would happen inside the request.
WEB_PROCESS = """
import gc, json, sys
import medassist.wsgi
frozen = gc.get_freeze_count()
from django.contrib.auth.models import User
from django.test import Client

def refuse(*args, **kwargs):
    raise AssertionError("the triage model was loaded inside a request")

text_model = sys.modules.get("medassist.ml.text_model")
if text_model is not None:
    text_model.load_text_checkpoint = refuse
at_start = {name: name in sys.modules for name in ("torch", "transformers")}
status = None
if len(sys.argv) > 1:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username=sys.argv[1]))
    status = client.post("/triage/encounters/new/", {
        "mrn": "MRN-LAZY", "name": "Lazy Test", "age_years": "40", "sex": "M",
        "arrival_mode": "walk_in", "chief_complaint": "twisted ankle playing football",
        "heart_rate": "80", "respiratory_rate": "14", "spo2": "99", "systolic_bp": "125",
        "diastolic_bp": "75", "temperature": "36.8", "temperature_unit": "C", "pain": "4",
        "mental_status": "A",
    }).status_code
after = {name: name in sys.modules for name in ("torch", "transformers")}
threads = sys.modules["torch"].get_num_threads() if after["torch"] else None
print(json.dumps(
    {"at_start": at_start, "status": status, "after": after, "frozen": frozen, "threads": threads}
))
"""


def _run(code: str, *args: str, env: dict[str, str]) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _web_env(media_root: Path, *, serves: bool) -> dict[str, str]:
    """The test PostgreSQL database and media folder, for a separate web process."""
    db = settings.DATABASES["default"]
    return {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "ALLOWED_HOSTS": "testserver",
        "MEDASSIST_WEB_SERVES_TRIAGE_MODEL": "1" if serves else "0",
    }


def test_no_page_of_the_site_imports_torch_or_transformers(tmp_path: Path) -> None:
    loaded, _ = _run(URL_TREE, *ML_LIBRARIES, env={"MEDASSIST_VAR_DIR": str(tmp_path)})
    assert loaded == {"torch": False, "transformers": False}


@pytest.mark.django_db(transaction=True)
def test_a_web_process_that_does_not_serve_the_triage_model_never_imports_it(
    postgres: None, nurse: User, media_root: Path
) -> None:
    triage_champion_answering(4)

    seen, log = _run(WEB_PROCESS, nurse.username, env=_web_env(media_root, serves=False))

    assert seen["status"] == 302
    assert seen["at_start"] == seen["after"] == {"torch": False, "transformers": False}
    assessment = TriageAssessment.objects.get()
    # The champion exists, but this system does not run it: the rules suggest, and say so.
    assert assessment.model_version is None
    assert "triage model is switched off" in assessment.explanation
    assert assessment.needs_attention
    assert "MEDASSIST_WEB_SERVES_TRIAGE_MODEL is off" in log


@pytest.mark.django_db(transaction=True)
def test_a_web_process_serving_the_triage_model_starts_without_a_champion(
    postgres: None, media_root: Path
) -> None:
    seen, log = _run(WEB_PROCESS, env=_web_env(media_root, serves=True))

    assert "No triage champion to load yet" in log
    # Loaded when the process starts, so that a champion promoted later costs a request
    # only its weights.
    assert seen["at_start"] == {"torch": True, "transformers": True}


@pytest.mark.django_db(transaction=True)
def test_a_web_process_serving_the_triage_model_loads_the_champion_before_any_request(
    postgres: None, nurse: User, media_root: Path
) -> None:
    champion = triage_champion_answering(4)

    seen, log = _run(WEB_PROCESS, nurse.username, env=_web_env(media_root, serves=True))

    assert "loaded into this web process" in log
    assert seen["status"] == 302, log[-3000:]  # no load inside the request (it is refused)
    # What it loaded is out of the garbage collector's full passes (a 100 ms pause one
    # request in twenty otherwise): the model's modules and tensors are many objects.
    assert seen["frozen"] > 200_000
    assessment = TriageAssessment.objects.get()
    assert assessment.model_version == champion
    assert assessment.model_level == 4


@pytest.mark.django_db(transaction=True)
def test_a_web_process_runs_torch_on_one_thread_unless_told_otherwise(
    postgres: None, nurse: User, media_root: Path
) -> None:
    """Its sibling processes answer other nurses on the same cores: a thread per core in
    each made two requests at once wait on each other (docs/triage.md)."""
    triage_champion_answering(4)
    # What a hospital sets for its workers (the web process sets torch's count itself).
    general = {"MEDASSIST_TORCH_THREADS": "2"}
    web = _web_env(media_root, serves=True)

    seen, log = _run(WEB_PROCESS, nurse.username, env={**web, **general})
    assert seen["status"] == 302, log[-3000:]
    assert seen["threads"] == 1  # after the champion's load and a nurse's request

    seen, log = _run(
        WEB_PROCESS, nurse.username, env={**web, **general, "MEDASSIST_WEB_TORCH_THREADS": "0"}
    )
    assert seen["status"] == 302, log[-3000:]
    assert seen["threads"] == 2  # 0: the general setting
