"""Domain-shifted stand-ins for a hospital's radiographs are filed as real studies."""

from __future__ import annotations

import pytest

from imaging.models import Study
from imaging.selectors import instance_read_dataset
from medassist.ml.display import dicom_to_display
from tests.factories import ingested_instance, ingested_shifted_instances

pytestmark = pytest.mark.django_db


def test_shifted_images_are_stored_as_one_real_study_of_one_patient() -> None:
    instances = ingested_shifted_instances(3, patient_id="HOSP-0042", seed=1)

    assert [i.instance_number for i in instances] == [1, 2, 3]
    study = instances[0].series.study
    assert {i.series_id for i in instances} == {instances[0].series_id}
    # Real as far as everything downstream can tell: these flags are what training, the
    # statistics and the viewer read to tell synthetic cases apart.
    assert study.is_synthetic is False and study.patient.is_synthetic is False
    assert study.patient.mrn == "HOSP-0042" and study.patient.birth_date is not None
    series = study.series.get()
    assert (series.modality, series.body_part) == ("DX", "CHEST")
    # The stored files decode as any upload's do.
    assert dicom_to_display(instance_read_dataset(instance=instances[2])).shape == (64, 64)


def test_the_demo_generator_s_studies_stay_synthetic_beside_them() -> None:
    shifted = ingested_shifted_instances(1, patient_id="HOSP-0043", modality="CR")[0]
    demo = ingested_instance(7)

    assert shifted.series.modality == "CR"
    by_synthetic = dict(Study.objects.values_list("patient__mrn", "is_synthetic"))
    assert by_synthetic == {"HOSP-0043": False, demo.series.study.patient.mrn: True}
