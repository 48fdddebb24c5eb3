"""A broker outage delays work; it never loses an image that was accepted.

The upload runs in a separate web process whose ``REDIS_URL`` names a port where nothing
listens: that process sees exactly what a real Redis outage gives it (the Celery publish and
the Redis cache both refuse the connection). The database is the real test PostgreSQL, so
the rows that process commits are read back here.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from django.conf import settings

from diagnosis.inference.models import InferenceRequest
from imaging.models import Instance
from tests.conftest import run_process, service_env
from tests.factories import synthetic_file

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
# A real server answers 500 to an unhandled error; so does this client.
client = Client(raise_request_exception=False)
client.force_login(User.objects.get(username=sys.argv[1]))
with open(sys.argv[2], "rb") as f:
    response = client.post("/imaging/upload/", {"file": f})
print(json.dumps({"status": response.status_code, "location": response.get("Location", "")}))
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_upload_during_a_broker_outage_keeps_its_file_and_its_waiting_work(
    postgres: None, doctor, tmp_path: Path, media_root: Path
) -> None:
    data = synthetic_file(seed=7)
    upload = tmp_path / "chest.dcm"
    upload.write_bytes(data)
    env = {
        **service_env(broker_url=f"redis://127.0.0.1:{_closed_port()}/0", media_root=media_root),
        "ALLOWED_HOSTS": "testserver",
        # Only one quick publish attempt: the outage is certain, waiting for it proves nothing.
        "MEDASSIST_STUDY_QUIET_SECONDS": "0",
    }
    done = run_process(UPLOAD, doctor.username, str(upload), env=env)
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    # The accepted image is stored, and its file is there: the preamble-zeroed upload.
    instance = Instance.objects.get()
    stored = Path(settings.MEDIA_ROOT) / instance.storage_key
    assert stored.is_file(), "the committed instance's file was deleted"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == instance.sha256
    # The doctor is sent to the case page, not shown a server error.
    assert answer["status"] == 302, done.stderr[-3000:]
    assert answer["location"].endswith(f"/{instance.pk}/")
    # The work the broker could not be told about is recorded, waiting for a worker.
    assert InferenceRequest.objects.filter(
        instance=instance, status=InferenceRequest.Status.PENDING
    ).exists()
    # And the failure is logged with its cause, not swallowed.
    assert "Connection refused" in done.stderr
