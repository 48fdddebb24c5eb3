"""A broker outage, end to end: the short version of bench/faults.py that CI runs.

The test starts its own Redis (so it can stop and restart it), a real Celery worker on it,
and uploads through web processes on it. Redis goes down during uploads and comes back
empty, as a restarted Redis does: every accepted image still gets exactly one suggestion,
after one sweep, with no new upload.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from diagnosis.inference.models import InferenceRequest, Suggestion
from imaging.models import Instance
from tests.conftest import SWEEP_SCRIPT, run_script, service_env, wait_for, worker_running
from tests.factories import synthetic_file

pytestmark = pytest.mark.integration

UPLOAD = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
client = Client(raise_request_exception=False)
client.force_login(User.objects.get(username=sys.argv[1]))
answers = []
for name in sys.argv[2:]:
    with open(name, "rb") as f:
        answers.append(client.post("/imaging/upload/", {"file": f}).status_code)
print(json.dumps(answers))
"""


def test_images_accepted_while_redis_was_down_and_restarted_empty_each_get_one_suggestion(
    transactional_db, postgres, private_redis, image_champion, doctor, media_root, tmp_path
):
    env = service_env(broker_url=private_redis.url, media_root=media_root)
    env["ALLOWED_HOSTS"] = "testserver"
    files = []
    for seed in range(6):
        path = tmp_path / f"image-{seed}.dcm"
        path.write_bytes(synthetic_file(100 + seed))
        files.append(str(path))

    with worker_running(broker_url=private_redis.url, media_root=media_root):
        before = json.loads(run_script(UPLOAD, doctor.username, *files[:2], env=env))
        assert before == [302, 302]
        wait_for(lambda: Suggestion.objects.count() == 2, timeout=120, what="the first two answers")

        private_redis.stop()
        during = json.loads(run_script(UPLOAD, doctor.username, *files[2:], env=env))
        # Accepted, with no error page: the outage is the broker's, not the doctor's.
        assert during == [302, 302, 302, 302]
        private_redis.start()  # empty: the wake-ups sent before the crash are gone too

        # A minute later (the sweep leaves younger requests to their own wake-ups):
        waiting = InferenceRequest.objects.filter(status="pending")
        assert waiting.count() == 4
        waiting.update(created_at=timezone.now() - dt.timedelta(minutes=2))
        swept = json.loads(run_script(SWEEP_SCRIPT, env=env))
        assert swept["wake_up"] == 1
        instances = list(Instance.objects.filter(uploaded_by=doctor))
        assert len(instances) == 6
        for instance in instances:
            assert (Path(media_root) / instance.storage_key).is_file()

        def all_answered() -> bool:
            return Suggestion.objects.filter(instance__in=instances).count() >= 6

        wait_for(all_answered, timeout=120, what="a suggestion for every accepted image")
    per_image = {i.pk: Suggestion.objects.filter(instance=i).count() for i in instances}
    assert set(per_image.values()) == {1}, per_image
