"""The export end to end through a real Celery worker process: no eager task, no test hook.

The review is saved in this process; the wake-up goes through the session's Redis once the
review commits; a `celery worker` process (default queue) builds the SR and stores it in the
archive this test runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.contrib.auth.models import User
from pydicom.uid import ComprehensiveSRStorage

from diagnosis.pacs.models import PacsExport
from diagnosis.registry.models import ModelVersion
from diagnosis.review.services import review_record
from medassist.models import AuditEvent
from tests.conftest import redis_database_empty, wait_for, worker_running
from tests.diagnosis.pacs.conftest import Archive, review_case

pytestmark = pytest.mark.integration


def test_a_worker_process_sends_the_final_review_once_it_commits(
    transactional_db: None,
    postgres: None,
    redis_broker: str,
    tiny: dict[str, int],
    media_root: Path,
    archive: Archive,
    doctor: User,
    version: ModelVersion,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    # The worker reads its settings from the environment, as a deployed one does.
    for name in (
        "MEDASSIST_PACS_SEND",
        "MEDASSIST_PACS_HOST",
        "MEDASSIST_PACS_PORT",
        "MEDASSIST_PACS_AE_TITLE",
        "MEDASSIST_PACS_CALLING_AE_TITLE",
        "MEDASSIST_PACS_TIMEOUT_SECONDS",
    ):
        monkeypatch.setenv(name, str(getattr(settings, name)))
    [image] = review_case(version)
    # The images' own inference wake-ups are not this test's business (no model runs here).
    redis_database_empty()

    with worker_running(broker_url=redis_broker, media_root=media_root):
        review = review_record(instance=image, reviewer=doctor, decision="accept")
        export = wait_for(
            lambda: PacsExport.objects.filter(review=review, status=PacsExport.Status.SENT).first(),
            timeout=60,
            what="the worker to send the SR",
        )
    [path] = archive.received
    ds = pydicom.dcmread(path)
    assert (ds.SOPClassUID, ds.SOPInstanceUID) == (
        ComprehensiveSRStorage,
        export.sr_sop_instance_uid,
    )
    assert AuditEvent.objects.filter(
        action="pacs.export.send", object_id=str(export.pk), detail__result="sent"
    ).exists()
