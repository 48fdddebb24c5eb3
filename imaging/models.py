"""The DICOM world: Study, Series, Instance. Files live under MEDIA_ROOT by server key.

An :class:`Instance` is an image: it has pixels, and what listens to new images (the AI,
the worklist) sees it. Every other object a study can hold (a structured report, an RT
structure set or plan, a waveform, an encapsulated PDF, a presentation state...) is a
:class:`NonImageInstance`: stored, checksummed and served the same way, filed under its
series, and never mistaken for an image.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from pydicom.uid import UID_dictionary

from medassist.models import Patient


class Study(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    study_instance_uid = models.CharField(max_length=64, unique=True)
    study_date = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    accession_number = models.CharField(max_length=64, blank=True)
    is_synthetic = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Where the study stands in the doctors' worklist, kept on the row so that a worklist page
    # is one index scan whatever the number of studies. A new study is unread; ingest marks a
    # study unread again when an image arrives, in the transaction that stores it; the review
    # and inference services of the diagnosis layer recompute these under a row lock
    # (diagnosis.review.services.study_worklist_refresh and study_urgency_refresh).
    worklist_priority = models.FloatField(default=0.0)
    unread = models.BooleanField(default=True)  # some image nobody has read yet
    second_read_pending = models.BooleanField(default=False)  # double reading: one read in
    in_adjudication = models.BooleanField(default=False)  # two reads disagree

    class Meta:
        verbose_name_plural = "studies"
        indexes = [
            # Worklist order (most urgent, then longest waiting), for every filter ...
            models.Index(
                fields=["-worklist_priority", "created_at", "id"], name="study_worklist_order"
            ),
            # ... and the default view, the studies awaiting a read, alone.
            models.Index(
                fields=["-worklist_priority", "created_at", "id"],
                name="study_worklist_awaiting",
                condition=models.Q(unread=True, in_adjudication=False),
            ),
            # ... and the reviewed view (single reading), whose capped count otherwise walks
            # past every unread study (275 ms at 10^6 studies).
            models.Index(
                fields=["-worklist_priority", "created_at", "id"],
                name="study_worklist_reviewed",
                condition=models.Q(unread=False, in_adjudication=False),
            ),
            # ... and the studies in adjudication (few: otherwise a scan of every study).
            models.Index(
                fields=["-worklist_priority", "created_at", "id"],
                name="study_worklist_adjudication",
                condition=models.Q(in_adjudication=True),
            ),
            # QIDO-RS searches by accession number and by study date (a range, then by id).
            models.Index(fields=["accession_number"], name="study_accession"),
            models.Index(fields=["study_date", "id"], name="study_date_id"),
        ]

    def __str__(self) -> str:
        return f"Study {self.study_instance_uid} ({self.patient.mrn})"


# Studies are counted in blocks of 2**STUDY_BLOCK_BITS consecutive ids (see StudyBlockCount);
# migration 0009's triggers compute the block as ``id >> 12`` and the slot as the writing
# connection's process id modulo 8.
STUDY_BLOCK_BITS = 12
STUDY_BLOCK_SLOTS = 8


class StudyBlockCount(models.Model):
    """How many studies have an id in one block of ``2**STUDY_BLOCK_BITS`` consecutive ids,
    as counted by the writers of one slot (the block's count is the sum over its slots).

    A QIDO-RS study search with no filter pages the studies by id with ``offset``: half-way
    through a million studies PostgreSQL walked half a million index entries to find the page
    (x2 from 10^5 to 10^6). With these counts the page starts at the block holding the offset
    (:func:`imaging.dicomweb.selectors.study_search`) and walks at most one block. On
    PostgreSQL the database keeps the rows, in the transaction of every insert and delete of
    studies, whoever makes it (the ingest, a bulk load or COPY): the statement triggers of
    migration ``0009_study_block_counts``. An update that would change a study's id is
    refused. Nothing in Python writes them but the rebuild
    (:func:`imaging.dicomweb.services.study_block_counts_rebuild`, ``manage.py
    study_block_counts_rebuild``: after a restore of data only, say). The block is found in
    one statement and the page in the next: a study committed between them moves the page as
    it would move the next page of any offset paging. Each writer adds to its own slot of the
    block (``STUDY_BLOCK_SLOTS`` by connection), so ingests creating studies at the same time
    do not queue on one counter row until the first commits. SQLite has no such triggers:
    there the search walks its offset (development data is small).
    """

    block = models.BigIntegerField()
    slot = models.SmallIntegerField()
    studies = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["block", "slot"], name="imaging_study_block_slot")
        ]

    def __str__(self) -> str:
        return (
            f"Studies with ids {self.block << STUDY_BLOCK_BITS}-, slot {self.slot}: {self.studies}"
        )


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="series")
    series_instance_uid = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=200, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        # The worklist's modality filter lists the modalities present: a walk of this index,
        # one step per modality, not a scan of every series.
        indexes = [
            models.Index(fields=["modality"], name="series_modality"),
            # "Has a series of this modality" (the worklist's modality filter, QIDO's
            # ModalitiesInStudy) answered from the index alone, without reading each series.
            models.Index(fields=["study", "modality"], name="series_study_modality"),
        ]

    def __str__(self) -> str:
        return f"Series {self.series_instance_uid} {self.modality}"


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    frames = models.PositiveIntegerField(default=1)
    # Server-generated, relative to MEDIA_ROOT; never built from DICOM values.
    storage_key = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64)
    # SHA-256 of the data set without the preamble and the file meta group (0002): the
    # image's identity whatever path brought it (imaging/ingest/identity.py). Blank on rows
    # stored before it existed; ingest fills it in the first time it needs it.
    dataset_sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField()
    source = models.CharField(max_length=32, default="upload")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Instance {self.sop_instance_uid}"


class NonImageInstance(models.Model):
    """A stored DICOM object without pixel data; never sent to inference, never read as an image.

    A SOP Instance UID is held by one Instance or one NonImageInstance, not both: ingest
    checks both tables before storing, and a different object under a stored UID is an
    :class:`IngestConflict` whichever table holds the original.
    """

    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="non_image_instances")
    sop_instance_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    # What the object calls itself, when it says: a document title, a report's concept name,
    # an RT plan or structure set label, a presentation state's content label.
    title = models.CharField(max_length=200, blank=True)
    # Server-generated, relative to MEDIA_ROOT; never built from DICOM values.
    storage_key = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64)
    dataset_sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField()
    source = models.CharField(max_length=32, default="upload")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.sop_class_name} {self.sop_instance_uid}"

    @property
    def sop_class_name(self) -> str:
        """ "Basic Text SR Storage", "Encapsulated PDF Storage"...; the UID when unknown."""
        entry = UID_dictionary.get(self.sop_class_uid)
        return entry[0] if entry else self.sop_class_uid


# What a SOP Instance UID can name once stored: an image or a non-image object.
StoredInstance = Instance | NonImageInstance


class IngestConflict(models.Model):
    """A file that arrived with a stored SOP Instance UID but different bytes.

    The stored instance is never overwritten; the newcomer is kept here, under its own server
    key in ``conflicts/``, until an administrator decides which one is right.
    """

    sop_instance_uid = models.CharField(max_length=64, db_index=True)
    # The stored original: an image, or a non-image object (exactly one of the two is set).
    existing_instance = models.ForeignKey(
        Instance, on_delete=models.PROTECT, related_name="conflicts", null=True, blank=True
    )
    existing_non_image = models.ForeignKey(
        NonImageInstance,
        on_delete=models.PROTECT,
        related_name="conflicts",
        null=True,
        blank=True,
    )
    # Server-generated, relative to MEDIA_ROOT, under conflicts/; never built from DICOM values.
    storage_key = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    source = models.CharField(max_length=32)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            # The same conflicting bytes sent twice are kept once while unresolved.
            models.UniqueConstraint(
                fields=["sop_instance_uid", "sha256"],
                condition=models.Q(resolved_at__isnull=True),
                name="imaging_one_open_conflict_per_file",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(existing_instance__isnull=False, existing_non_image__isnull=True)
                    | models.Q(existing_instance__isnull=True, existing_non_image__isnull=False)
                ),
                name="imaging_conflict_has_one_original",
            ),
        ]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"Conflict on {self.sop_instance_uid} ({state}, {self.received_at:%Y-%m-%d %H:%M})"
