"""Reads of medication safety: the knowledge table, the patient's allergies and current
medications, the encounter's medication plan, and the check of a medication against them.

The check matches words, not meaning: a medication is recognised when its text contains a
substance the knowledge table names (``amoxicillin 500 mg`` holds ``amoxicillin``), and a
substance belongs to every class that lists it. What the table does not name is not checked,
and the pages say so: this is a curated table, not a complete interaction checker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import F, Prefetch, QuerySet

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import (
    AllergyRecord,
    KnowledgeEntry,
    KnowledgeVersion,
    MedicationPlanEntry,
    MedicationRecord,
    Severity,
    WarningOverride,
)
from diagnosis.pathways.models import PathwayItem, PathwayUse
from medassist.models import Patient

# --- The knowledge table -----------------------------------------------------------------


def _versions() -> QuerySet[KnowledgeVersion]:
    return KnowledgeVersion.objects.select_related(
        "entry", "author", "approval", "approval__approver"
    )


def versions_of(*, entry: KnowledgeEntry) -> QuerySet[KnowledgeVersion]:
    """Every version of the entry, newest first, with its author and approval."""
    return _versions().filter(entry=entry).order_by("-number")


def latest_version(*, entry: KnowledgeEntry) -> KnowledgeVersion | None:
    """The entry's newest version, approved or not: the one an edit starts from."""
    return versions_of(entry=entry).first()


@dataclass(frozen=True)
class EntryState:
    """An entry with its current (approved) version and the draft awaiting approval."""

    entry: KnowledgeEntry
    current: KnowledgeVersion | None
    draft: KnowledgeVersion | None


def _approved(version: KnowledgeVersion) -> bool:
    # The approval was fetched with the version (select_related): no query here.
    return getattr(version, "approval", None) is not None


def _state(entry: KnowledgeEntry, versions: list[KnowledgeVersion]) -> EntryState:
    """``versions`` newest first."""
    current = next((v for v in versions if _approved(v)), None)
    latest = versions[0] if versions else None
    draft = latest if latest is not None and not _approved(latest) else None
    return EntryState(entry=entry, current=current, draft=draft)


def entry_state(*, entry: KnowledgeEntry) -> EntryState:
    return _state(entry, list(versions_of(entry=entry)))


def knowledge_library() -> list[EntryState]:
    """Every entry of the table with its current version and draft, the entries in service
    first, then the retired ones: two queries."""
    entries = (
        KnowledgeEntry.objects.select_related("retired_by")
        .prefetch_related(
            Prefetch("versions", queryset=_versions().order_by("-number"), to_attr="newest_first")
        )
        .order_by(F("retired_at").asc(nulls_first=True), "kind", "pk")
    )
    return [_state(e, e.newest_first) for e in entries]


def _norm(text: str) -> str:
    """Lower case, words separated by single spaces, padded: `` co-amoxiclav 625 mg ``."""
    return " " + " ".join(re.sub(r"[^a-z0-9-]+", " ", text.lower()).split()) + " "


def _key(term: str) -> str:
    return _norm(term).strip()


@dataclass(frozen=True)
class Rule:
    kind: str
    a: str
    b: str
    version: KnowledgeVersion


@dataclass
class KnowledgeBase:
    """The approved entries, ready to match: classes by name, substances, rules."""

    classes: dict[str, set[str]] = field(default_factory=dict)
    substances: set[str] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    demo: bool = False

    def substances_in(self, text: str) -> set[str]:
        words = _norm(text)
        return {s for s in self.substances if f" {s} " in words}

    def terms_of(self, text: str) -> set[str]:
        """The substances the text names, the classes that hold them, and any class named
        outright (``penicillin`` allergy: the class ``penicillins``)."""
        words = _norm(text)
        found = self.substances_in(text)
        terms = set(found)
        for name, members in self.classes.items():
            named = f" {name} " in words or (name.endswith("s") and f" {name[:-1]} " in words)
            if named or found & members:
                terms.add(name)
        return terms

    def members(self, term: str) -> set[str]:
        return self.classes.get(term, {term})


def knowledge_base() -> KnowledgeBase:
    """The current approved version of every entry in service, as a :class:`KnowledgeBase`.

    A retired entry is left out: it warns about nothing from the moment it was retired.
    """
    base = KnowledgeBase()
    for state in knowledge_library():
        version = state.current
        if version is None or state.entry.is_retired:
            continue
        base.demo = base.demo or state.entry.is_demo
        if state.entry.kind == KnowledgeEntry.Kind.DRUG_CLASS:
            members = {_key(m) for m in version.member_list()}
            base.classes.setdefault(_key(version.name), set()).update(members)
            base.substances.update(members)
        else:
            base.rules.append(
                Rule(state.entry.kind, _key(version.term_a), _key(version.term_b), version)
            )
    for rule in base.rules:
        for term in (rule.a, rule.b):
            if term not in base.classes:
                base.substances.add(term)
    return base


# --- The patient's records ---------------------------------------------------------------


def allergy_history(*, patient: Patient) -> QuerySet[AllergyRecord]:
    """Every allergy record of the patient, newest first (superseded ones included)."""
    return (
        AllergyRecord.objects.filter(patient=patient)
        .select_related("recorded_by", "superseded_by")
        .order_by("-created_at", "-pk")
    )


def allergies_current(*, patient: Patient) -> QuerySet[AllergyRecord]:
    """The records that stand: not superseded and active (allergies, or "none known")."""
    return allergy_history(patient=patient).filter(superseded_by__isnull=True, active=True)


def medication_history(*, patient: Patient) -> QuerySet[MedicationRecord]:
    return (
        MedicationRecord.objects.filter(patient=patient)
        .select_related("recorded_by", "superseded_by")
        .order_by("-created_at", "-pk")
    )


def medications_current(*, patient: Patient) -> QuerySet[MedicationRecord]:
    return medication_history(patient=patient).filter(superseded_by__isnull=True, active=True)


@dataclass(frozen=True)
class PatientRecords:
    """A known patient with the allergy records and current medications that stand."""

    patient: Patient
    allergies: list[AllergyRecord]
    medications: list[MedicationRecord]

    @property
    def allergy_status_unknown(self) -> bool:
        return not self.allergies


def patient_records(*, mrn: str) -> PatientRecords | None:
    """The patient with this MRN and their standing allergies and current medications, for
    the nurse at intake (three queries); None when no patient has this MRN yet."""
    mrn = mrn.strip()
    patient = Patient.objects.filter(mrn=mrn).first() if mrn else None
    if patient is None:
        return None
    return PatientRecords(
        patient=patient,
        allergies=list(allergies_current(patient=patient)),
        medications=list(medications_current(patient=patient)),
    )


def plan_of(*, encounter: Encounter) -> QuerySet[MedicationPlanEntry]:
    """The encounter's medication plan entries, newest first, with their overrides."""
    return (
        MedicationPlanEntry.objects.filter(encounter=encounter)
        .select_related("doctor")
        .prefetch_related(
            Prefetch(
                "overrides",
                # The exact version that warned, and its entry: retired or not, it stays
                # readable beside the override.
                queryset=WarningOverride.objects.select_related(
                    "knowledge_version__entry"
                ).order_by("pk"),
            )
        )
        .order_by("-created_at", "-pk")
    )


# --- The check -----------------------------------------------------------------------------

SEVERITY_ORDER = {s: i for i, s in enumerate(Severity.values)}
ALLERGY_RECORD_SOURCE = "The patient's own allergy record"


@dataclass(frozen=True)
class MedicationWarning:
    """One warning about a medication: where it comes from, how severe, what to do.

    ``key`` names it in the form that acknowledges it; ``version`` is the approved knowledge
    version that raised it (None: the built-in "this is what the patient is allergic to").
    """

    key: str
    kind: str  # "allergy" or "interaction"
    severity: str
    title: str
    note: str
    action: str
    source: str
    version: KnowledgeVersion | None
    is_demo: bool

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label

    @property
    def summary(self) -> str:
        return f"{self.severity_label}: {self.title}. {self.note} Source: {self.source}."


@dataclass(frozen=True)
class CheckResult:
    """Every warning for one medication, most severe first; ``recognised`` is false when the
    knowledge table names no substance in it (then nothing was checked)."""

    name: str
    recognised: bool
    warnings: list[MedicationWarning]


def medication_check(
    *,
    name: str,
    allergies: list[AllergyRecord],
    medications: list[MedicationRecord],
    base: KnowledgeBase | None = None,
) -> CheckResult:
    """Check the medication ``name`` against the allergies and current medications given."""
    base = base if base is not None else knowledge_base()
    terms = base.terms_of(name)
    substances = base.substances_in(name)
    warnings: list[MedicationWarning] = []
    for allergy in allergies:
        if allergy.kind != AllergyRecord.Kind.ALLERGY:
            continue
        allergen = base.terms_of(allergy.substance)
        what = f"allergy to {allergy.substance}"
        if allergy.reaction:
            what += f" ({allergy.reaction}"
            what += f", {allergy.get_severity_display().lower()})" if allergy.severity else ")"
        matched = False
        for rule in base.rules:
            if rule.kind == KnowledgeEntry.Kind.ALLERGY and rule.a in allergen and rule.b in terms:
                matched = True
                warnings.append(
                    _warning(
                        rule.version,
                        key=f"allergy-{rule.version.pk}-{allergy.pk}",
                        kind="allergy",
                        title=f"{name} and the patient's {what}: "
                        f"{rule.version.term_b} with a {rule.version.term_a} allergy",
                    )
                )
        same = substances & base.substances_in(allergy.substance)
        named = bool(_key(allergy.substance)) and f" {_key(allergy.substance)} " in _norm(name)
        if not matched and (same or named):
            warnings.append(
                MedicationWarning(
                    key=f"allergy-0-{allergy.pk}",
                    kind="allergy",
                    severity=Severity.CONTRAINDICATED,
                    title=f"{name} is what the patient's {what} names",
                    note="The medication contains the substance the patient is allergic to.",
                    action="Choose another medication.",
                    source=ALLERGY_RECORD_SOURCE,
                    version=None,
                    is_demo=False,
                )
            )
    for medication in medications:
        other = base.terms_of(medication.name)
        other_substances = base.substances_in(medication.name)
        for rule in base.rules:
            if rule.kind != KnowledgeEntry.Kind.INTERACTION:
                continue
            if not ((rule.a in terms and rule.b in other) or (rule.b in terms and rule.a in other)):
                continue
            if rule.a == rule.b:
                # A pair within one class needs two different substances of it.
                pair = (substances & base.members(rule.a)) | (
                    other_substances & base.members(rule.a)
                )
                if len(pair) < 2:
                    continue
            warnings.append(
                _warning(
                    rule.version,
                    key=f"interaction-{rule.version.pk}-{medication.pk}",
                    kind="interaction",
                    title=f"{name} with the patient's current {medication.name}: "
                    f"{rule.version.term_a} + {rule.version.term_b}",
                )
            )
    warnings.sort(key=lambda w: SEVERITY_ORDER.get(w.severity, 99))
    return CheckResult(name=name, recognised=bool(terms), warnings=warnings)


def _warning(version: KnowledgeVersion, *, key: str, kind: str, title: str) -> MedicationWarning:
    return MedicationWarning(
        key=key,
        kind=kind,
        severity=version.severity,
        title=title,
        note=version.note,
        action=version.action,
        source=version.source,
        version=version,
        is_demo=version.entry.is_demo,
    )


def patient_check(*, patient: Patient, name: str) -> CheckResult:
    """Check ``name`` against the patient's current allergies and medications."""
    return medication_check(
        name=name,
        allergies=list(allergies_current(patient=patient)),
        medications=list(medications_current(patient=patient)),
    )


@dataclass(frozen=True)
class StepCheck:
    """A treatment step of the care pathway the doctor accepted, and its check."""

    item: PathwayItem
    result: CheckResult


def pathway_steps_check(*, encounter: Encounter) -> list[StepCheck]:
    """The treatment steps the doctor kept from the encounter's latest care pathway decision,
    each checked like a medication; only the steps that name a known substance."""
    use = (
        PathwayUse.objects.filter(encounter=encounter, superseded_by__isnull=True)
        .exclude(decision=PathwayUse.Decision.DECLINED)
        .order_by("-pk")
        .first()
    )
    if use is None:
        return []
    items = [
        state.item
        for state in use.item_states.select_related("item").order_by("item__position")
        if state.followed and state.item.kind == PathwayItem.Kind.TREATMENT
    ]
    if not items:
        return []
    base = knowledge_base()
    allergies = list(allergies_current(patient=encounter.patient))
    medications = list(medications_current(patient=encounter.patient))
    checks = []
    for item in items:
        result = medication_check(
            name=item.text, allergies=allergies, medications=medications, base=base
        )
        if result.recognised:
            checks.append(StepCheck(item=item, result=result))
    return checks
