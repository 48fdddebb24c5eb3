"""Who may use each URL, which of them show patient data, and the middleware that audits them.

:data:`POLICY` declares every named URL of the project (the admin's excepted, by prefix):
the roles it serves and whether it shows patient data. It is the source of truth the
deny-by-default test (``tests/web/test_url_policy.py``) holds every view to: a URL without
an entry fails that test, and so does a view that lets in a role its entry does not name.
The views enforce access themselves (``role_required``, the DICOMweb permission classes).

:class:`AccessAuditMiddleware` records the reads of patient data that the views do not
record themselves, after the view answered 2xx to a signed-in user:

- a page (``bulk=False``) each time it is shown, as ``<subject>.view``;
- the many small reads behind a page (frames, thumbnails, the viewer's manifest, heatmaps,
  HTMX partials: ``bulk=True``) once per study (or encounter) per session, as
  ``<subject>.read``. A study whose page view the view itself audited counts as recorded
  for the rest of the session, so the frames that page loads add no rows.

Each event carries the client address. The middleware also wraps the whole request in
:func:`medassist.services.audit_origin`, so every audit event a request writes, however
deep below the view, records that address.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase

from .roles import Role
from .services import audit_origin, audit_record, client_ip

logger = logging.getLogger(__name__)

# Not a role: anybody, signed in or not (the login page, the health check).
ANYONE = "anyone"
CLINICAL_AND_AUDIT = frozenset(
    {Role.DOCTOR, Role.NURSE, Role.ML_ADMIN, Role.CLINICAL_LEAD, Role.AUDITOR}
)

# URL names under these namespaces are left to their own app (Django's admin: staff only).
EXCLUDED_PREFIXES = ("admin:",)


@dataclass(frozen=True)
class Subject:
    """How a URL's keyword arguments lead to the record whose data it shows.

    ``model`` is the row the keyword argument ``kwarg`` names (matched on ``lookup``);
    ``to`` is the path from that row to the subject (a study, an encounter), empty when
    the row is the subject itself. ``kind`` names the subject in the audit action.
    """

    kind: str
    label: str
    model: str
    kwarg: str
    lookup: str = "pk"
    to: str = ""

    def resolve(self, kwargs: dict[str, Any], *, exists: bool = False) -> int | None:
        """The subject's primary key, or None when no such row exists (the view said 404).
        With ``exists`` (the caller has the row, as its view shows it) a URL that names the
        subject by its own primary key is not looked up."""
        if self.kwarg not in kwargs:
            return None
        if exists and not self.to and self.lookup == "pk":
            return int(kwargs[self.kwarg])
        manager = apps.get_model(self.model)._default_manager
        return (
            manager.filter(**{self.lookup: kwargs[self.kwarg]})
            .values_list(self.to or "pk", flat=True)
            .first()
        )


def _study(model: str, kwarg: str, *, to: str = "", lookup: str = "pk") -> Subject:
    return Subject(
        kind="study", label="imaging.Study", model=model, kwarg=kwarg, lookup=lookup, to=to
    )


STUDY = _study("imaging.Study", "study_id")
STUDY_OF_INSTANCE = _study("imaging.Instance", "instance_id", to="series__study")
STUDY_OF_SUGGESTION = _study("diagnosis.Suggestion", "suggestion_id", to="instance__series__study")
STUDY_BY_UID = _study("imaging.Study", "study", lookup="study_instance_uid")
ENCOUNTER = Subject(
    kind="encounter", label="diagnosis.Encounter", model="diagnosis.Encounter", kwarg="encounter_id"
)
ENCOUNTER_OF_ASSESSMENT = Subject(
    kind="encounter",
    label="diagnosis.Encounter",
    model="diagnosis.TriageAssessment",
    kwarg="assessment_id",
    to="encounter",
)


@dataclass(frozen=True)
class Rule:
    """What one URL is: who may use it, and whether (and how) its reads are audited.

    - ``roles``: the roles the view lets in (:data:`ANYONE` for a public URL); every other
      signed-in user gets 403, an anonymous one the login page (401 for ``api`` views).
    - ``methods``: the HTTP methods it serves (the test sends each).
    - ``patient_data``: it shows data about a patient; ``subject`` finds which.
    - ``audited_by_view``: the view records its own event for a full page (HTMX partials of
      it are recorded here, once per subject and session).
    - ``bulk``: one of many small reads behind a page; recorded once per subject and session.
    - ``api``: a REST or DICOMweb view taking ``Authorization: Token`` as well as a session.
    """

    roles: frozenset[str]
    methods: frozenset[str] = frozenset({"GET"})
    patient_data: bool = False
    subject: Subject | None = None
    audited_by_view: bool = False
    bulk: bool = False
    api: bool = False


def _rule(*roles: str, methods: tuple[str, ...] = ("GET",), **kwargs: Any) -> Rule:
    return Rule(roles=frozenset(roles), methods=frozenset(methods), **kwargs)


DOCTOR, NURSE, ML_ADMIN, AUDITOR = Role.DOCTOR, Role.NURSE, Role.ML_ADMIN, Role.AUDITOR
LEAD = Role.CLINICAL_LEAD
GET_POST = ("GET", "POST")
POST = ("POST",)


def _dicomweb(*, subject: Subject | None = STUDY_BY_UID, stow: bool = False) -> Rule:
    # A search names no one study: DicomWebView audits each search itself
    # (imaging/dicomweb/auth.py). A retrieve is one of the many reads a viewer or a PACS
    # makes of one study: recorded here, once per study per session (or per token).
    return _rule(
        DOCTOR,
        methods=GET_POST if stow else ("GET",),
        patient_data=True,
        subject=subject,
        audited_by_view=subject is None,
        bulk=subject is not None,
        api=True,
    )


def _bulk(*roles: str, subject: Subject) -> Rule:
    return _rule(*roles, patient_data=True, subject=subject, bulk=True)


POLICY: dict[str, Rule] = {
    # --- Core --------------------------------------------------------------------------
    "home": Rule(roles=CLINICAL_AND_AUDIT),
    "healthz": _rule(ANYONE),
    "login": _rule(ANYONE, methods=GET_POST),
    "logout": _rule(ANYONE, methods=POST),
    "session-status": _rule(ANYONE, methods=GET_POST),
    # Superusers too (they hold every permission). The log names patients' records.
    "audit": _rule(AUDITOR, patient_data=True, audited_by_view=True),
    "audit-export": _rule(AUDITOR, patient_data=True, audited_by_view=True),
    # --- Imaging -----------------------------------------------------------------------
    # The upload's result lists what this user just sent; each stored image is audited.
    "imaging:upload": _rule(DOCTOR, methods=GET_POST),
    "imaging:frame": _bulk(DOCTOR, subject=STUDY_OF_INSTANCE),
    "imaging:api-upload": _rule(DOCTOR, methods=POST, api=True),
    "imaging:dicomweb-studies": _dicomweb(subject=None, stow=True),
    "imaging:dicomweb-study": _dicomweb(stow=True),
    "imaging:dicomweb-series-search": _dicomweb(subject=None),
    "imaging:dicomweb-instance-search": _dicomweb(subject=None),
    "imaging:dicomweb-study-series": _dicomweb(),
    "imaging:dicomweb-study-instances": _dicomweb(),
    "imaging:dicomweb-series-instances": _dicomweb(),
    "imaging:dicomweb-series": _dicomweb(),
    "imaging:dicomweb-instance": _dicomweb(),
    "imaging:dicomweb-study-metadata": _dicomweb(),
    "imaging:dicomweb-series-metadata": _dicomweb(),
    "imaging:dicomweb-instance-metadata": _dicomweb(),
    "imaging:dicomweb-instance-rendered": _dicomweb(),
    "imaging:dicomweb-frame-rendered": _dicomweb(),
    "imaging:dicomweb-study-rendered": _dicomweb(),
    "imaging:dicomweb-series-rendered": _dicomweb(),
    "imaging:dicomweb-frames": _dicomweb(),
    "imaging:dicomweb-bulkdata": _dicomweb(),
    "imaging:viewer:study": _rule(
        DOCTOR, patient_data=True, subject=STUDY, audited_by_view=True
    ),  # study.view
    # The manifest names the patient (name, MRN); the viewer fetches it with the page.
    "imaging:viewer:manifest": _bulk(DOCTOR, subject=STUDY),
    "imaging:viewer:frame-raw": _bulk(DOCTOR, subject=STUDY_OF_INSTANCE),
    "imaging:viewer:frame-png": _bulk(DOCTOR, subject=STUDY_OF_INSTANCE),
    "imaging:viewer:thumbnail": _bulk(DOCTOR, subject=STUDY_OF_INSTANCE),
    # The OHIF Viewer's files and config (imaging/viewer/ohif.py): no patient data; what it
    # reads of a study goes through DICOMweb above, and is audited there.
    "imaging:viewer:ohif": _rule(DOCTOR),
    # --- Diagnosis ---------------------------------------------------------------------
    # worklist.view per page load; its HTMX refreshes re-show the same list, not recorded.
    "diagnosis:worklist": _rule(DOCTOR, patient_data=True, audited_by_view=True),
    # case.view per page load; the suggestion panel's HTMX polls are recorded here.
    "diagnosis:case": _rule(
        DOCTOR, patient_data=True, subject=STUDY_OF_INSTANCE, audited_by_view=True
    ),
    "diagnosis:worklist-next": _rule(DOCTOR),  # redirects to a case page, which is audited
    "diagnosis:review": _rule(DOCTOR, methods=POST),  # review.submit, by the service
    "diagnosis:stats": _rule(DOCTOR, ML_ADMIN),  # agreement and waiting times, no patient
    "diagnosis:saliency": _bulk(DOCTOR, subject=STUDY_OF_SUGGESTION),
    # The case page's PACS panel (polled) and the doctor's "Send to PACS" (pacs.export.queue
    # or pacs.export.retry, by the service): doctors only, a nurse cannot send.
    "diagnosis:pacs-status": _bulk(DOCTOR, subject=STUDY_OF_INSTANCE),
    "diagnosis:pacs-send": _rule(DOCTOR, methods=POST),
    # Re-scoring the unreviewed studies on the champion (inference.rescore, by the service)
    # and its progress: counts only, no patient.
    "diagnosis:rescore-start": _rule(ML_ADMIN, methods=POST),
    "diagnosis:rescore-job": _rule(ML_ADMIN),
    "diagnosis:triage-board": _rule(NURSE, patient_data=True, audited_by_view=True),
    # encounter.open, by services. Its "Look up MRN" (a POST) shows a known patient's
    # allergies and medications: patient.view, by the view.
    "diagnosis:encounter-new": _rule(
        NURSE, methods=GET_POST, patient_data=True, audited_by_view=True
    ),
    "diagnosis:encounter": _rule(
        NURSE, DOCTOR, patient_data=True, subject=ENCOUNTER, audited_by_view=True
    ),  # encounter.view
    # The words that weighed for the model's level: a fragment of the encounter page.
    "diagnosis:triage-words": _bulk(NURSE, DOCTOR, subject=ENCOUNTER_OF_ASSESSMENT),
    "diagnosis:triage-confirm": _rule(NURSE, methods=POST),  # triage.confirm or .override
    # Vital signs taken again: vitals.record, then triage.assess, by the services. Nurses
    # only: the measurement starts a new suggestion that a nurse confirms.
    "diagnosis:encounter-vitals": _rule(NURSE, methods=POST),
    "diagnosis:final-diagnosis": _rule(
        DOCTOR,
        methods=GET_POST,
        patient_data=True,
        subject=ENCOUNTER,
        audited_by_view=True,
    ),  # encounter.view; final_diagnosis.record by the service
    "diagnosis:disposition": _rule(DOCTOR, methods=POST),  # disposition.record
    # The encounter diagnosis model's ranked groups: a fragment of the encounter pages.
    "diagnosis:encounter-dx": _bulk(DOCTOR, subject=ENCOUNTER),
    # The doctor's decision on the care pathway offered for the final diagnosis: pathway.use,
    # by the service (a refused decision shows the encounter's page again: encounter data).
    "diagnosis:pathway-use": _rule(DOCTOR, methods=POST),
    # --- Care pathways (the hospital's written next steps: no patient) -----------------
    # Doctors read them; clinical leads write (pathway.create, .edit), approve another
    # lead's version (pathway.approve) and retire them (pathway.retire), by the services.
    "diagnosis:pathways": _rule(LEAD, DOCTOR),
    "diagnosis:pathway": _rule(LEAD, DOCTOR),
    "diagnosis:pathway-version": _rule(LEAD, DOCTOR),
    "diagnosis:pathway-new": _rule(LEAD, methods=GET_POST),
    "diagnosis:pathway-edit": _rule(LEAD, methods=GET_POST),
    "diagnosis:pathway-approve": _rule(LEAD, methods=POST),
    "diagnosis:pathway-retire": _rule(LEAD, methods=POST),
    # --- Medication safety ----------------------------------------------------------------
    # The patient's allergies, current medications and the encounter's medication plan:
    # encounter.view per page load. Nurses and doctors record allergies and medications
    # (allergy.record, .remove; medication.record, .stop); the plan is the doctor's
    # (medication_plan.add, medication.override), by the services. A refused write shows the
    # encounter's page again, as the pathway decision does.
    "diagnosis:medication": _rule(
        NURSE, DOCTOR, patient_data=True, subject=ENCOUNTER, audited_by_view=True
    ),
    "diagnosis:medication-allergy": _rule(NURSE, DOCTOR, methods=POST),
    "diagnosis:medication-current": _rule(NURSE, DOCTOR, methods=POST),
    "diagnosis:medication-plan": _rule(DOCTOR, methods=POST),
    # The curated medication knowledge table (no patient): doctors read it; clinical leads
    # write (medication_knowledge.create, .edit) and approve another lead's version
    # (medication_knowledge.approve), by the services.
    "diagnosis:medication-knowledge": _rule(LEAD, DOCTOR),
    "diagnosis:medication-knowledge-entry": _rule(LEAD, DOCTOR),
    "diagnosis:medication-knowledge-new": _rule(LEAD, methods=GET_POST),
    "diagnosis:medication-knowledge-edit": _rule(LEAD, methods=GET_POST),
    "diagnosis:medication-knowledge-approve": _rule(LEAD, methods=POST),
    # One clinical lead retires an entry with a reason (medication_knowledge.retire).
    "diagnosis:medication-knowledge-retire": _rule(LEAD, methods=POST),
    # --- Fine-tuning (models and runs: metrics, no patient) ----------------------------
    "finetune:models": _rule(ML_ADMIN),
    "finetune:run-start": _rule(ML_ADMIN, methods=POST),
    "finetune:run": _rule(ML_ADMIN),
    "finetune:run-cancel": _rule(ML_ADMIN, methods=POST),
    # A second ML admin approves or declines a promotion (training.approve / .decline).
    "finetune:run-approve": _rule(ML_ADMIN, methods=POST),
    # A model version's page and model card (HTML, or JSON with ?format=json), and making an
    # earlier version champion again: model.promote is audited by the registry's service.
    "finetune:version": _rule(ML_ADMIN),
    "finetune:version-rollback": _rule(ML_ADMIN, methods=POST),
    # Doctors too: every suggestion on the encounter pages links to its model's card (what
    # the model is for, its training data and test figures: no patient).
    "finetune:version-card": _rule(ML_ADMIN, DOCTOR),
    # The finding vocabulary: no patient; finding.add, .update and .retire, by the services.
    "finetune:findings": _rule(ML_ADMIN, methods=GET_POST),
    "finetune:finding-edit": _rule(ML_ADMIN, methods=GET_POST),
    "finetune:finding-retire": _rule(ML_ADMIN, methods=POST),
    # De-identified images, exported and downloaded by their ML admin; the service audits
    # both (dataset.export, dataset.export.download).
    "finetune:export": _rule(ML_ADMIN, methods=GET_POST),
    "finetune:export-download": _rule(ML_ADMIN, patient_data=True, audited_by_view=True),
    # The frozen test set's composition (counts only) and growing it: test_set.grow is
    # audited by the service.
    "finetune:test-set": _rule(ML_ADMIN, methods=GET_POST),
    # Bringing existing labels: the report names what the ML admin sent (UIDs, file names) and
    # findings, no patient; the import is audited by the services (labels.import, and each
    # image and label it stores: instance.ingest, review.submit).
    "finetune:label-import": _rule(ML_ADMIN, methods=GET_POST),
}


def rule_for(url_name: str) -> Rule | None:
    """The rule of ``url_name`` ("namespace:name"); None for excluded and unknown names."""
    return POLICY.get(url_name)


def is_excluded(url_name: str) -> bool:
    return url_name.startswith(EXCLUDED_PREFIXES)


_warned: set[str] = set()


def _seen_scope(request: HttpRequest) -> str | None:
    """What "one session" is for this request: the session, else the API token."""
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if not key:
        key = request.META.get("HTTP_AUTHORIZATION", "")
    if not key:
        return None
    # The cache never holds a usable session key or token, only its hash.
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _seen_key(scope: str, subject: Subject, pk: int) -> str:
    return f"medassist:access-seen:{scope}:{subject.label}:{pk}"


def _first_read(request: HttpRequest, subject: Subject, pk: int) -> bool:
    """Whether this session has not read this subject yet (and from now on, has)."""
    scope = _seen_scope(request)
    if scope is None:
        return True
    try:
        return bool(cache.add(_seen_key(scope, subject, pk), 1, settings.SESSION_COOKIE_AGE))
    except Exception:
        # Without the cache a read is recorded every time: more rows, never a lost one.
        logger.exception("Could not check the cache for reads already audited.")
        return True


def _remember(
    request: HttpRequest, rule: Rule, kwargs: dict[str, Any], *, exists: bool = False
) -> None:
    """The view recorded this page: its subject counts as recorded for this session
    (``exists``: the view has the subject's row)."""
    scope = _seen_scope(request)
    if scope is None or rule.subject is None:
        return
    pk = rule.subject.resolve(kwargs, exists=exists)
    if pk is not None:
        try:
            cache.set(_seen_key(scope, rule.subject, pk), 1, settings.SESSION_COOKIE_AGE)
        except Exception:
            # Then the page's fragments are recorded once more: harmless.
            logger.exception("Could not remember an audited page in the cache.")


def page_audited_by_view(request: HttpRequest, url_name: str, **kwargs: Any) -> None:
    """A view answered another request with the page ``url_name`` (``kwargs`` its URL's) and
    audited it, as that page's own GET does (the intake answers with the encounter's page):
    the page's fragments then count as read in this session, as after the GET. The view
    has the page's subject (its row exists)."""
    rule = rule_for(url_name)
    if rule is not None:
        _remember(request, rule, kwargs, exists=True)


class AccessAuditMiddleware:
    """Audits reads of patient data the views leave unrecorded (see the module docstring).

    "Once per session" is kept in the shared cache (Redis in production), not in the
    session itself: a viewer fetches a study's frames several at a time, and ``cache.add``
    lets exactly one of those parallel requests record the study where session writes would
    race. An entry lasts as long as a session can (``SESSION_COOKIE_AGE``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with audit_origin(remote_addr=client_ip(request)):
            response = self.get_response(request)
            self._record(request, response)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        match = request.resolver_match
        name = match.view_name if match is not None else ""
        rule = rule_for(name)
        if rule is None and not is_excluded(name) and name not in _warned:
            _warned.add(name)
            logger.warning("URL %r has no entry in medassist.access.POLICY; not audited.", name)
        request._medassist_access = (name, rule, view_kwargs)  # type: ignore[attr-defined]

    def _record(self, request: HttpRequest, response: HttpResponseBase) -> None:
        name, rule, kwargs = getattr(request, "_medassist_access", ("", None, {}))
        if rule is None or not rule.patient_data or request.method not in {"GET", "HEAD"}:
            return
        # The view's own user check ran (DRF sets the token's user on the request too).
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not 200 <= response.status_code < 300:
            return
        htmx = bool(getattr(request, "htmx", False))
        if rule.audited_by_view and not htmx:
            # An API view audits each request itself: nothing of it to remember.
            if not rule.api:
                self._remember_page(request, rule, kwargs)
            return
        subject = rule.subject
        pk = subject.resolve(kwargs) if subject is not None else None
        if subject is None or pk is None:
            if not rule.audited_by_view:  # an HTMX refresh of an audited list is not
                self._write(request, name, action=f"{name}.view")
            return
        if rule.bulk or htmx:
            if not _first_read(request, subject, pk):
                return
            action = f"{subject.kind}.read"
        else:
            action = f"{subject.kind}.view"
        obj = apps.get_model(subject.label)._default_manager.get(pk=pk)
        self._write(request, name, action=action, obj=obj)

    def _remember_page(self, request: HttpRequest, rule: Rule, kwargs: dict[str, Any]) -> None:
        _remember(request, rule, kwargs)

    def _write(self, request: HttpRequest, name: str, *, action: str, obj: Any = None) -> None:
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            action=action[:64],
            obj=obj,
            detail={"url": name, "path": request.path[:300]},
            remote_addr=client_ip(request),
        )
