"""Deny by default: every URL is declared in medassist.access.POLICY, and every view keeps it.

The first test walks every URL pattern of the project (the admin's excepted): a new URL
without a policy entry fails it. The matrix then asks every URL, with real rows behind its
keyword arguments, as each kind of user: the roles its entry names get in, anybody else
signed in gets 403, and anonymous or deactivated users are sent to sign in (DICOMweb and
the REST upload answer 401). The last tests check what the access middleware records.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from diagnosis.encounters.models import Encounter
from diagnosis.inference.models import RescoreJob, Suggestion
from diagnosis.medication.services import EntryContent, knowledge_entry_create
from diagnosis.pathways.services import ItemSpec, pathway_create, pathway_version_approve
from diagnosis.registry.models import Finding
from diagnosis.triage.services import triage_assess
from imaging.models import Instance
from medassist.access import ANYONE, POLICY, Rule, is_excluded
from medassist.models import AuditEvent
from medassist.roles import Role
from tests.conftest import make_user
from tests.diagnosis.encounters.helpers import encounter_of
from tests.factories import (
    ModelVersionFactory,
    TrainingRunFactory,
    ingested_instance,
    synthetic_file,
)

pytestmark = pytest.mark.django_db

ANONYMOUS, NO_ROLE, DEACTIVATED = "anonymous", "no role", "deactivated"
ROLES = (
    ANONYMOUS,
    NO_ROLE,
    Role.NURSE,
    Role.DOCTOR,
    Role.ML_ADMIN,
    Role.CLINICAL_LEAD,
    Role.AUDITOR,
    DEACTIVATED,
)
# Token-carrying clients of the DICOMweb and REST endpoints.
TOKENS = (Role.DOCTOR, Role.NURSE, DEACTIVATED, "wrong token", "no token")


def _url_names() -> dict[str, list[str]]:
    """Every named URL of the project ("namespace:name") -> its keyword argument names."""
    found: dict[str, list[str]] = {}

    def walk(resolver: URLResolver, namespaces: list[str]) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = [*namespaces, pattern.namespace] if pattern.namespace else namespaces
                walk(pattern, inner)
                continue
            assert isinstance(pattern, URLPattern)
            name = ":".join([*namespaces, pattern.name or f"<unnamed {pattern.pattern}>"])
            if not is_excluded(name):
                found[name] = list(pattern.pattern.regex.groupindex)

    walk(get_resolver(), [])
    return found


URLS = _url_names()


def test_every_url_has_a_policy_entry_and_every_entry_a_url() -> None:
    missing = sorted(set(URLS) - set(POLICY))
    assert not missing, (
        f"URLs without an entry in medassist.access.POLICY: {missing}. Declare who may use "
        "each, and whether it shows patient data."
    )
    assert not sorted(set(POLICY) - set(URLS)), "POLICY names URLs that no longer exist"


def test_every_url_that_shows_patient_data_says_how_it_is_audited() -> None:
    for name, rule in POLICY.items():
        if rule.patient_data and not rule.audited_by_view:
            assert rule.subject is not None or not rule.bulk, name
        assert ANYONE not in rule.roles or not rule.patient_data, name


@dataclass
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    kwargs: dict[str, Any]
    instance: Instance
    suggestion: Suggestion
    encounter: Encounter


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (255, 0, 0, 128)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def module_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-media")


@pytest.fixture(autouse=True)
def media_root(module_media: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """The files of the module's rows (overrides the per-test media folder of conftest)."""
    settings.MEDIA_ROOT = module_media
    return module_media


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, module_media: Path) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """The rows every URL's keyword arguments name, made once and rolled back at the end.

    Each test runs in a savepoint inside this module's transaction, as Django's TestCase
    does with setUpTestData.
    """
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=module_media):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world(module_media)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _build_world(media: Path) -> World:
    users = {role: make_user(f"policy-{role}", role) for role in Role.values}
    users[NO_ROLE] = make_user("policy-nobody", None)
    users[DEACTIVATED] = make_user("policy-gone", Role.DOCTOR)
    users[DEACTIVATED].is_active = False
    users[DEACTIVATED].save()
    tokens = {
        who: Token.objects.create(user=users[who]).key
        for who in (Role.DOCTOR, Role.NURSE, DEACTIVATED)
    }
    tokens["wrong token"] = "0" * 40
    instance = ingested_instance(71, by=users[Role.DOCTOR])
    (media / "saliency").mkdir(exist_ok=True)
    (media / "saliency" / "policy.png").write_bytes(_png())
    suggestion = Suggestion.objects.create(
        instance=instance,
        model_version=ModelVersionFactory(),
        top_finding=Finding.objects.get(code="nodule"),
        top_probability=0.9,
        probabilities={"nodule": 0.9},
        input_sha256=instance.sha256,
        latency_ms=1.0,
        saliency_key="saliency/policy.png",
    )
    encounter = encounter_of(users[Role.NURSE], mrn="SYN-POLICY-1")
    pathway_version = pathway_create(
        author=users[Role.CLINICAL_LEAD],
        group="I20-I25",
        title="Policy pathway",
        review_date=timezone.localdate() + dt.timedelta(days=30),
        items=[ItemSpec(kind="investigation", text="ECG")],
    )
    pathway_version_approve(
        version=pathway_version, approver=make_user("policy-lead-2", Role.CLINICAL_LEAD)
    )
    knowledge_version = knowledge_entry_create(
        author=users[Role.CLINICAL_LEAD],
        kind="class",
        content=EntryContent(name="penicillins", members="amoxicillin"),
    )
    assessment = triage_assess(encounter=encounter, actor=users[Role.NURSE])
    series = instance.series
    kwargs = {
        "instance_id": instance.pk,
        "study_id": series.study_id,
        "frame": 0,  # the viewer counts frames from 0
        "suggestion_id": suggestion.pk,
        "encounter_id": encounter.pk,
        "assessment_id": assessment.pk,
        "run_id": TrainingRunFactory().pk,
        "version_id": suggestion.model_version_id,
        "job_id": RescoreJob.objects.create(model_version=suggestion.model_version).pk,
        # DICOMweb names resources by UID and counts frames from 1.
        "study": series.study.study_instance_uid,
        "series": series.series_instance_uid,
        "instance": instance.sop_instance_uid,
        "frames": "1",
        "key": "0" * 32,  # an export nobody made: 404 for the ML admin, refused for others
        "pathway_id": pathway_version.pathway_id,
        "pathway_version_id": pathway_version.pk,
        "knowledge_entry_id": knowledge_version.entry_id,
        "knowledge_version_id": knowledge_version.pk,
    }
    return World(users, tokens, kwargs, instance, suggestion, encounter)


def _url(world: World, name: str) -> str:
    return reverse(name, kwargs={k: world.kwargs[k] for k in URLS[name]})


def _client(world: World, role: str) -> Client:
    client = Client()
    if role != ANONYMOUS:
        client.force_login(world.users[role])
    return client


def _sent_to_sign_in(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        f"{reverse('login')}?next="
    )


def _check(response: HttpResponse, *, rule: Rule, who: str, signed_in: bool) -> None:
    """``who`` (a role, or not signed in) got what ``rule`` promises."""
    if ANYONE in rule.roles or (signed_in and who in rule.roles):
        assert response.status_code not in {401, 403}, response.content[:300]
        assert not _sent_to_sign_in(response)
    elif signed_in:
        assert response.status_code == 403
    elif rule.api:
        assert response.status_code == 401
    else:
        assert _sent_to_sign_in(response), response.status_code


def _cases(matrix: list[tuple[str, str, str]]) -> list[Any]:
    return [pytest.param(*case, id="-".join(c.replace(" ", "_") for c in case)) for case in matrix]


MATRIX = [
    (name, role, method)
    for name in URLS
    if name in POLICY
    for role in ROLES
    for method in sorted({"GET"} | POLICY[name].methods)
]


@pytest.mark.parametrize(("name", "role", "method"), _cases(MATRIX))
def test_each_url_lets_in_exactly_the_roles_its_policy_names(
    world: World, name: str, role: str, method: str
) -> None:
    response = getattr(_client(world, role), method.lower())(_url(world, name))
    signed_in = role not in {ANONYMOUS, DEACTIVATED}
    _check(response, rule=POLICY[name], who=role, signed_in=signed_in)


TOKEN_MATRIX = [
    (name, who, method)
    for name, rule in POLICY.items()
    if rule.api
    for who in TOKENS
    for method in sorted(rule.methods)
]


@pytest.mark.parametrize(("name", "who", "method"), _cases(TOKEN_MATRIX))
def test_api_urls_take_a_token_with_the_same_rules(
    world: World, name: str, who: str, method: str
) -> None:
    headers = {} if who == "no token" else {"Authorization": f"Token {world.tokens[who]}"}
    response = getattr(Client(), method.lower())(_url(world, name), headers=headers)
    _check(response, rule=POLICY[name], who=who, signed_in=who in {Role.DOCTOR, Role.NURSE})


# --- What the access middleware records --------------------------------------------------


def _reads(world: World, user: User) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(actor=user, action__endswith=".read").order_by("pk"))


def test_the_viewer_s_requests_are_audited_once_per_study_and_session(world: World) -> None:
    doctor = world.users[Role.DOCTOR]
    client = _client(world, Role.DOCTOR)
    study_id = world.kwargs["study_id"]
    for name in (
        "imaging:viewer:manifest",
        "imaging:viewer:thumbnail",
        "imaging:viewer:frame-png",
        "imaging:viewer:frame-raw",
        "imaging:frame",
        "diagnosis:saliency",
        "imaging:viewer:manifest",
    ):
        assert client.get(_url(world, name), REMOTE_ADDR="10.20.30.40").status_code == 200
    [read] = _reads(world, doctor)
    assert (read.action, read.object_type, read.object_id) == (
        "study.read",
        "imaging.Study",
        str(study_id),
    )
    assert read.detail["url"] == "imaging:viewer:manifest"
    assert read.remote_addr == "10.20.30.40"
    # Another session is another reader as far as the log is concerned.
    _client(world, Role.DOCTOR).get(_url(world, "imaging:viewer:thumbnail"))
    assert len(_reads(world, doctor)) == 2


def test_a_study_whose_page_the_view_audited_adds_no_rows_for_its_frames(world: World) -> None:
    doctor = world.users[Role.DOCTOR]
    client = _client(world, Role.DOCTOR)
    before = AuditEvent.objects.filter(actor=doctor).count()
    assert client.get(_url(world, "imaging:viewer:study")).status_code == 200
    client.get(_url(world, "imaging:viewer:manifest"))
    client.get(_url(world, "imaging:viewer:frame-png"))
    actions = list(
        AuditEvent.objects.filter(actor=doctor).order_by("pk").values_list("action", flat=True)
    )[before:]
    assert actions == ["study.view"], "the view's own event, once; nothing per frame"


def test_the_case_partial_read_on_its_own_is_audited(world: World) -> None:
    doctor = world.users[Role.DOCTOR]
    client = _client(world, Role.DOCTOR)
    url = _url(world, "diagnosis:case")
    for _ in range(3):  # the suggestion panel polls
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code in {200, 286}
    [read] = _reads(world, doctor)
    assert read.action == "study.read" and read.detail["url"] == "diagnosis:case"


def test_a_page_its_view_audits_is_recorded_once_not_twice(world: World) -> None:
    doctor = world.users[Role.DOCTOR]
    client = _client(world, Role.DOCTOR)
    before = AuditEvent.objects.filter(actor=doctor).count()
    client.get(_url(world, "diagnosis:case"), REMOTE_ADDR="10.0.0.8")
    events = list(AuditEvent.objects.filter(actor=doctor).order_by("pk"))[before:]
    assert [(e.action, e.remote_addr) for e in events] == [("case.view", "10.0.0.8")]


def test_a_refused_read_is_not_recorded_as_a_read(world: World) -> None:
    nurse = world.users[Role.NURSE]
    response = _client(world, Role.NURSE).get(_url(world, "imaging:viewer:manifest"))
    assert response.status_code == 403
    assert _reads(world, nurse) == []


def test_a_url_missing_from_the_policy_is_served_and_logged(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delitem(POLICY, "healthz")
    with caplog.at_level(logging.WARNING, logger="medassist.access"):
        assert Client().get(reverse("healthz")).status_code == 200
    assert "'healthz' has no entry in medassist.access.POLICY" in caplog.text


def _written_since(before: int) -> dict[str, str | None]:
    """The address on each kind of audit event written after event ``before``.

    Signing in is left out: the test client's force_login has no request to take it from.
    """
    events = AuditEvent.objects.filter(pk__gt=before).exclude(action="auth.signin").order_by("pk")
    return {e.action: e.remote_addr for e in events}


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_intake_records_the_nurse_s_address_on_every_row_it_writes(world: World) -> None:
    before = _last_event_id()
    response = _client(world, Role.NURSE).post(
        reverse("diagnosis:encounter-new"),
        {
            "mrn": "SYN-POLICY-IP", "name": "Synthetic Address", "birth_date": "1970-01-01",
            "sex": "F", "chief_complaint": "Chest pain", "heart_rate": "90",
            "respiratory_rate": "18", "spo2": "97", "systolic_bp": "130", "diastolic_bp": "80",
            "temperature": "37.0", "temperature_unit": "C", "pain": "5", "mental_status": "A",
        },
        REMOTE_ADDR="10.4.5.6",
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    assert _written_since(before) == dict.fromkeys(
        ["patient.register", "encounter.open", "triage.assess"], "10.4.5.6"
    )


def test_an_upload_records_the_doctor_s_address_on_the_ingest_rows(world: World) -> None:
    before = _last_event_id()
    upload = io.BytesIO(synthetic_file(72))
    upload.name = "policy.dcm"
    response = _client(world, Role.DOCTOR).post(
        reverse("imaging:upload"), {"file": upload}, REMOTE_ADDR="10.7.7.7"
    )
    assert response.status_code == 302
    assert _written_since(before) == {"patient.register": "10.7.7.7", "instance.ingest": "10.7.7.7"}
