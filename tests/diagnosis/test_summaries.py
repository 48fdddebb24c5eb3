"""The summaries PostgreSQL keeps for the findings, test-set and statistics pages: after every
kind of write they hold what counting the reviews themselves gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion, ReviewStatsState
from diagnosis.registry.selectors import LabelCount, finding_label_counts, label_counts_of
from diagnosis.review import stats
from diagnosis.review.models import ReadingState, Review
from diagnosis.review.services import review_record
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.roles import Role
from tests.conftest import make_user
from tests.factories import ModelVersionFactory, ingested_instance, unmarked_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

MONDAY = dt.date(2026, 11, 2)


@pytest.fixture
def findings() -> dict[str, Finding]:
    return {
        code: Finding.objects.get_or_create(code=code, defaults={"name": code.title()})[0]
        for code in ("normal", "nodule", "opacity")
    }


def _real(seed: int) -> Instance:
    return instance_ingest(data=unmarked_file(seed), uploaded_by=None).instance


def _labels_agree() -> dict[int, LabelCount]:
    kept = finding_label_counts()
    assert kept == label_counts_of(ReadingState.objects.all())
    return kept


def test_the_label_counts_follow_every_review(doctor: User, findings) -> None:
    normal, nodule = findings["normal"], findings["nodule"]
    real, synthetic = _real(1), ingested_instance(2)
    assert _labels_agree() == {}
    review_record(instance=real, reviewer=doctor, decision="correct", findings=[nodule])
    assert _labels_agree() == {nodule.pk: LabelCount(1, 1)}
    # A correction moves the label; a synthetic image counts, but not as real.
    review_record(instance=real, reviewer=doctor, decision="correct", findings=[normal])
    review_record(instance=synthetic, reviewer=doctor, decision="correct", findings=[nodule])
    assert _labels_agree() == {normal.pk: LabelCount(1, 1), nodule.pk: LabelCount(1, 0)}
    # Rejected as non-diagnostic: no label any more.
    review_record(instance=real, reviewer=doctor, decision="reject")
    assert _labels_agree() == {nodule.pk: LabelCount(1, 0)}
    # A labelling review changed after the fact (by an administrator) moves its count too.
    label = ReadingState.objects.get(instance=synthetic).label
    Review.objects.filter(pk=label.pk).update(finding=findings["opacity"])
    assert _labels_agree() == {findings["opacity"].pk: LabelCount(1, 0)}


def test_under_double_reading_only_the_agreed_or_adjudicated_read_counts(
    doctor: User, findings, settings
) -> None:
    settings.MEDASSIST_DOUBLE_READING = True
    normal, nodule = findings["normal"], findings["nodule"]
    second, third = make_user("dr-two", Role.DOCTOR), make_user("dr-three", Role.DOCTOR)
    image = _real(3)
    review_record(instance=image, reviewer=doctor, decision="correct", findings=[nodule])
    assert _labels_agree() == {}  # one read: no label yet
    review_record(instance=image, reviewer=second, decision="correct", findings=[normal])
    assert _labels_agree() == {}  # the readers disagree
    review_record(instance=image, reviewer=third, decision="correct", findings=[normal])
    assert _labels_agree() == {normal.pk: LabelCount(1, 1)}


# --- The statistics page's summaries -------------------------------------------------------


@contextmanager
def _at(day: dt.date, hour: float) -> Iterator[None]:
    """Rows created inside are stamped ``hour`` hours after 08:00 on ``day``."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(8)) + dt.timedelta(hours=hour))
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def _suggest(instance: Instance, version: ModelVersion, finding: Finding) -> Suggestion:
    return Suggestion.objects.create(
        instance=instance,
        model_version=version,
        probabilities={finding.code: 0.9},
        top_finding=finding,
        top_probability=0.9,
        input_sha256="0" * 64,
        latency_ms=5.0,
    )


def _review(suggestion: Suggestion, doctor: User, finding: Finding, **kwargs) -> Review:  # type: ignore[no-untyped-def]
    return Review.objects.create(
        instance=suggestion.instance,
        suggestion=suggestion,
        reviewer=doctor,
        action="accept" if finding == suggestion.top_finding else "correct",
        finding=finding,
        **kwargs,
    )


def _figures(figures: stats._Figures) -> tuple:  # type: ignore[type-arg]
    waits = [(w.week, w.n, round(w.mean_hours, 6), round(w.max_hours, 6)) for w in figures.waits]
    return sorted(figures.agreement), waits, figures.synthetic


@pytest.fixture
def built(postgres) -> None:  # type: ignore[no-untyped-def]
    """Summaries built over what the test starts with (the migration builds them; a flush
    by an earlier test empties them), so that what follows is the triggers' doing."""
    stats.summaries_rebuild(force=True)


def _kept_matches_live(*, rebuilt: bool) -> tuple:  # type: ignore[type-arg]
    """The summaries' figures, having checked they equal a live count, and that reading them
    rebuilt them (``rebuilt``) or found the triggers had kept them."""
    with mock.patch.object(stats, "summaries_rebuild", wraps=stats.summaries_rebuild) as rebuild:
        kept = _figures(stats._summary_figures())
    assert rebuild.called is rebuilt
    assert kept == _figures(stats._live_figures())
    return kept


def test_the_first_read_builds_summaries_that_are_missing(doctor: User, findings) -> None:
    ReviewStatsState.objects.all().delete()
    with _at(MONDAY, 0):
        suggestion = _suggest(
            ingested_instance(9), ModelVersionFactory(version=199), findings["nodule"]
        )
    with _at(MONDAY, 2):
        _review(suggestion, doctor, findings["nodule"])
    assert _kept_matches_live(rebuilt=True)[1] == [(MONDAY, 1, 2.0, 2.0)]
    _kept_matches_live(rebuilt=False)


@pytest.mark.usefixtures("built")
def test_the_statistics_summaries_are_kept_by_the_writes(doctor: User, findings) -> None:
    nodule, normal = findings["nodule"], findings["normal"]
    v1, v2 = ModelVersionFactory(version=201), ModelVersionFactory(version=202)
    images = [ingested_instance(10 + k) for k in range(4)]
    with _at(MONDAY, 0):
        first = _suggest(images[0], v1, nodule)
    with _at(MONDAY, 2):
        _review(first, doctor, nodule)
    agreement, waits, _ = _kept_matches_live(rebuilt=False)
    assert agreement == [(MONDAY, nodule.pk, v1.pk, 1, 1)]
    assert waits == [(MONDAY, 1, 2.0, 2.0)]

    # A correction that supersedes, a second image, a later week: kept by the triggers.
    with _at(MONDAY, 3):
        second = _suggest(images[1], v1, nodule)
    with _at(MONDAY, 7):
        wrong = _review(second, doctor, normal)
    with _at(MONDAY, 9):
        _review(second, doctor, nodule, supersedes=wrong)
    with _at(MONDAY + dt.timedelta(days=8), 0):
        third = _suggest(images[2], v2, normal)
    with _at(MONDAY + dt.timedelta(days=8), 1):
        _review(third, make_user("dr-two", Role.DOCTOR), nodule)
    agreement, waits, _ = _kept_matches_live(rebuilt=False)
    assert (MONDAY, nodule.pk, v1.pk, 2, 2) in agreement
    assert waits[0] == (MONDAY, 2, 3.0, 4.0)  # 2 h and 4 h: the first review, not the later one

    # A rescore after the image was read: its first review is the next one.
    with _at(MONDAY, 10):
        rescored = _suggest(images[0], v2, normal)
    with _at(MONDAY, 16):
        _review(rescored, doctor, normal)
    _kept_matches_live(rebuilt=False)
    # A suggestion made after a review already stamped later (clocks of two servers apart).
    with _at(MONDAY, 20):
        early = _suggest(images[3], v1, normal)
    with _at(MONDAY, 23):
        _review(early, doctor, normal)
    with _at(MONDAY, 21):
        _suggest(images[3], v2, nodule)
    _kept_matches_live(rebuilt=False)


@pytest.mark.usefixtures("built")
def test_what_the_triggers_cannot_follow_makes_the_next_read_rebuild(
    doctor: User, findings
) -> None:
    nodule = findings["nodule"]
    version = ModelVersionFactory(version=301)
    image = ingested_instance(20)
    with _at(MONDAY, 0):
        suggestion = _suggest(image, version, nodule)
    with _at(MONDAY, 5):
        later = _review(suggestion, doctor, nodule)
    _kept_matches_live(rebuilt=False)
    # An earlier review arrives after the one counted as first (it was stamped earlier).
    with _at(MONDAY, 1):
        _review(suggestion, make_user("dr-two", Role.DOCTOR), nodule)
    assert ReviewStatsState.objects.get().stale
    _, waits, _ = _kept_matches_live(rebuilt=True)
    assert waits == [(MONDAY, 1, 1.0, 1.0)]
    # A review moved in time by hand.
    Review.objects.filter(pk=later.pk).update(created_at=later.created_at + dt.timedelta(days=9))
    assert ReviewStatsState.objects.get().stale
    _kept_matches_live(rebuilt=True)
    _kept_matches_live(rebuilt=False)


@pytest.mark.usefixtures("built")
def test_the_page_says_synthetic_once_any_review_involves_synthetic_data(
    doctor: User, findings
) -> None:
    real_version = ModelVersionFactory(version=401, trained_on_synthetic_data=False)
    with _at(MONDAY, 0):
        suggestion = _suggest(_real(4), real_version, findings["normal"])
    with _at(MONDAY, 1):
        _review(suggestion, doctor, findings["normal"])
    assert _kept_matches_live(rebuilt=False)[2] is False
    with _at(MONDAY, 2):
        synthetic = _suggest(ingested_instance(21), real_version, findings["normal"])
    with _at(MONDAY, 3):
        _review(synthetic, doctor, findings["normal"])
    assert _kept_matches_live(rebuilt=False)[2] is True


@pytest.mark.usefixtures("built")
def test_a_rebuild_in_another_time_zone_follows_the_setting(doctor: User, findings, settings):  # type: ignore[no-untyped-def]
    version = ModelVersionFactory(version=501)
    sunday_night = timezone.make_aware(dt.datetime(2026, 11, 8, 23, 30), dt.UTC)
    with mock.patch("django.utils.timezone.now", return_value=sunday_night):
        suggestion = _suggest(ingested_instance(22), version, findings["nodule"])
        _review(suggestion, doctor, findings["nodule"])
    assert _kept_matches_live(rebuilt=False)[0][0][0] == MONDAY
    settings.TIME_ZONE = "Asia/Tokyo"  # already Monday the 9th there
    agreement, _, _ = _kept_matches_live(rebuilt=True)
    assert agreement[0][0] == MONDAY + dt.timedelta(days=7)
