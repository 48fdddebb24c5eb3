"""Every model of the diagnosis app, for Django to find; each is defined in its workflow.

Code imports a model from its own workflow's ``models`` module (one hop to its definition);
this module only gathers them so the app label ``diagnosis`` and its tables stay as they are.
"""

from __future__ import annotations

from diagnosis.encounters.models import Disposition, Encounter, FinalDiagnosis, VitalSigns
from diagnosis.inference.models import InferenceRequest, RescoreJob, Suggestion
from diagnosis.medication.models import (
    AllergyRecord,
    KnowledgeApproval,
    KnowledgeEntry,
    KnowledgeVersion,
    MedicationPlanEntry,
    MedicationRecord,
    WarningOverride,
)
from diagnosis.pacs.models import PacsExport
from diagnosis.pathways.models import (
    Pathway,
    PathwayApproval,
    PathwayItem,
    PathwayUse,
    PathwayUseItem,
    PathwayVersion,
)
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import ReadingState, Review, ReviewAssignment, StudyUrgency
from diagnosis.triage.models import TriageAssessment

__all__ = [
    "AllergyRecord",
    "Disposition",
    "Encounter",
    "FinalDiagnosis",
    "Finding",
    "InferenceRequest",
    "KnowledgeApproval",
    "KnowledgeEntry",
    "KnowledgeVersion",
    "MedicationPlanEntry",
    "MedicationRecord",
    "ModelVersion",
    "PacsExport",
    "Pathway",
    "PathwayApproval",
    "PathwayItem",
    "PathwayUse",
    "PathwayUseItem",
    "PathwayVersion",
    "ReadingState",
    "RescoreJob",
    "Review",
    "ReviewAssignment",
    "StudyUrgency",
    "Suggestion",
    "TriageAssessment",
    "VitalSigns",
    "WarningOverride",
]
