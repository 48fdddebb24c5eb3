"""Hostile files over the wire: seeded mutants sent by STOW-RS and C-STORE never cause a
server error, and never take the C-STORE listener down.

The mutants are those of test_ingest_fuzz.py (tests/imaging/ingest/mutants.py), sent as a
remote sender would: STOW-RS requests of several instances each (so a bad instance sits next
to good ones in one batch) through the whole Django stack, and C-STORE to a listener running
in this process's threads, over one association per chunk. Every instance must be stored or
refused with a 4xx / a refusal status; none may fail with a 5xx, a Processing Failure
(0x0110) or the listener's 0xC0FF, and the listener must still accept an association and
answer C-ECHO at the end. bench/fuzz.py runs the same over 10,000 mutants against gunicorn
and ``manage.py dicom_scp``; MEDASSIST_FUZZ_NETWORK_EXAMPLES sets the count here.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from rest_framework.authtoken.models import Token

from imaging.dicomweb.services import PROCESSING_FAILURE
from imaging.ingest.parsing import read_file_meta
from imaging.ingest.scp import INTERNAL_ERROR, ScpConfig, scp_start
from imaging.models import Instance
from tests.imaging.ingest.mutants import mutants

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("MEDASSIST_FUZZ_NETWORK_EXAMPLES", "300"))
SEED = int(os.environ.get("MEDASSIST_FUZZ_SEED", "20261129"))
PER_REQUEST = 5
PACS = "FUZZ_SCU"
STOW_TYPE = 'multipart/related; type="application/dicom"; boundary={}'


def stow_body(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
        for data in files
    )
    return body + f"--{boundary}--\r\n".encode(), STOW_TYPE.format(boundary)


def failure_reasons(answer: dict) -> list[int]:
    failed = answer.get("00081198", {}).get("Value") or []
    return [item["00081197"]["Value"][0] for item in failed]


def context_of(data: bytes) -> tuple[str, str] | None:
    """(SOP class, transfer syntax) a sender would negotiate for a file, if its meta says."""
    try:
        meta = read_file_meta(data)
        pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
    except Exception:  # a sender cannot send what it cannot read either
        return None
    return (
        pair if all(0 < len(uid) <= 64 and uid.replace(".", "").isdigit() for uid in pair) else None
    )


@pytest.fixture
def listener_port(postgres: None) -> Iterator[int]:
    server = scp_start(
        config=ScpConfig(port=0, bind_address="127.0.0.1", allowed_calling_ae_titles=(PACS,))
    )
    yield int(server.server_address[1])
    ae = server.ae
    server.shutdown()
    # Associations end (and close their DB connections) before the test DB is flushed.
    deadline = time.monotonic() + 10
    while ae.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)


def echo(port: int) -> bool:
    ae = AE(ae_title=PACS)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDASSIST")
    if not assoc.is_established:
        return False
    ok = assoc.send_c_echo().get("Status") == 0
    assoc.release()
    return ok


def send_c_store(port: int, files: list[tuple[str, bytes]], folder: Path) -> Counter[str]:
    """Send each file that names a context over one association (a new one after an abort);
    count the statuses, and 'server error' for 0xC0FF."""
    counts: Counter[str] = Counter()
    sendable = [(label, data, context_of(data)) for label, data in files]
    contexts = sorted({pair for _, _, pair in sendable if pair is not None})[:120]
    assoc = None
    _config.STORE_SEND_CHUNKED_DATASET = True
    for number, (label, data, pair) in enumerate(sendable):
        if pair is None or pair not in contexts:
            counts["not sendable"] += 1
            continue
        if assoc is None or not assoc.is_established:
            ae = AE(ae_title=PACS)
            for sop_class, syntax in contexts:
                ae.add_requested_context(sop_class, syntax)
            assoc = ae.associate("127.0.0.1", port, ae_title="MEDASSIST")
            assert assoc.is_established, f"{label}: the listener refused a new association"
        path = folder / f"{number}.dcm"
        path.write_bytes(data)
        try:
            answer = assoc.send_c_store(path)
        except (ValueError, AttributeError, KeyError, TypeError, OSError):
            counts["not sendable"] += 1  # the client's own reader gave up on it
            continue
        status = answer.get("Status") if answer else None
        if status is None:
            counts["no answer"] += 1  # aborted: the next one re-associates
        elif status == INTERNAL_ERROR:
            counts["server error"] += 1
            pytest.fail(f"{label}: the listener answered 0xC0FF (input kept as {path})")
        else:
            counts["stored" if status == 0 else f"0x{status:04X}"] += 1
    if assoc is not None and assoc.is_established:
        assoc.release()
    return counts


def test_mutants_over_stow_rs_and_c_store_cause_no_server_error_and_no_crash(
    doctor: User, listener_port: int, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    # Small limits keep each bomb cheap; they are the same code paths as the defaults.
    settings.MEDASSIST_MAX_INFLATED_BYTES = 2 * 1024 * 1024
    settings.MEDASSIST_MAX_PIXELS = 4096 * 4096
    token = Token.objects.create(user=doctor).key
    web = Client(HTTP_AUTHORIZATION=f"Token {token}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on every odd value
        corpus = list(mutants(SEED, EXAMPLES))
    over_stow, over_c_store = corpus[: EXAMPLES // 2], corpus[EXAMPLES // 2 :]

    stow: Counter[str] = Counter()
    for start in range(0, len(over_stow), PER_REQUEST):
        chunk = over_stow[start : start + PER_REQUEST]
        body, content_type = stow_body([data for _, data in chunk])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = web.post(
                "/imaging/dicomweb/studies",
                data=body,
                content_type=content_type,
                HTTP_ACCEPT="application/dicom+json",
            )
        labels = "; ".join(label for label, _ in chunk)
        assert response.status_code < 500, f"{labels}: {response.status_code}"
        reasons = failure_reasons(response.json()) if response.status_code != 400 else []
        assert PROCESSING_FAILURE not in reasons, f"{labels}: a Processing Failure"
        stow[str(response.status_code)] += 1
        stow["refused"] += len(reasons)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_store = send_c_store(listener_port, over_c_store, tmp_path)

    assert echo(listener_port), "the listener no longer answers C-ECHO"
    assert c_store["server error"] == 0
    # Both paths really stored some and refused some.
    assert Instance.objects.exists()
    assert stow["refused"] > 0
    refused = sum(v for k, v in c_store.items() if k.startswith("0x"))
    assert c_store["stored"] > 0 and refused > 0, dict(c_store)
    print(f"\nSTOW-RS responses: {dict(stow)}; C-STORE: {dict(c_store)}")
