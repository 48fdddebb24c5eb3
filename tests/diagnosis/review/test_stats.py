"""The statistics page: agreement, override rate and time to review on a known dataset."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import Review
from diagnosis.review.stats import review_statistics, stats_window_start
from tests.factories import ModelVersionFactory, ingested_instance

pytestmark = pytest.mark.django_db

# Two weeks (Mondays) within the page's default period, whatever the day the tests run.
W1 = stats_window_start(weeks=4)
W2 = W1 + dt.timedelta(weeks=1)


def _moment(day: dt.date, hour: float) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(8)) + dt.timedelta(hours=hour))


def _suggest(seed: int, version: ModelVersion, finding: Finding, day: dt.date) -> Suggestion:
    suggestion = Suggestion.objects.create(
        instance=ingested_instance(seed),
        model_version=version,
        probabilities={finding.code: 0.9},
        top_finding=finding,
        top_probability=0.9,
        input_sha256="0" * 64,
        latency_ms=5.0,
    )
    Suggestion.objects.filter(pk=suggestion.pk).update(created_at=_moment(day, 0))
    return suggestion


def _review(
    suggestion: Suggestion,
    doctor: User,
    finding: Finding,
    *,
    day: dt.date,
    hours_after: float,
    supersedes: Review | None = None,
) -> Review:
    action = "accept" if finding == suggestion.top_finding else "correct"
    review = Review.objects.create(
        instance=suggestion.instance,
        suggestion=suggestion,
        reviewer=doctor,
        action=action,
        finding=finding,
        supersedes=supersedes,
    )
    Review.objects.filter(pk=review.pk).update(created_at=_moment(day, hours_after))
    return review


@pytest.fixture
def known_reviews(doctor) -> None:  # type: ignore[no-untyped-def]
    """Two weeks, two model versions, two findings; every figure below is worked by hand.

    week 1, v1 suggests nodule twice: accepted after 2 h; corrected after 4 h, then the
    doctor changed their mind and accepted after 6 h (only that current review counts).
    week 2, v2 suggests normal twice: corrected after 1 h; accepted after 3 h. A fifth
    suggestion is still waiting and counts nowhere.
    """
    nodule, _ = Finding.objects.get_or_create(code="nodule", defaults={"name": "Nodule"})
    normal, _ = Finding.objects.get_or_create(code="normal", defaults={"name": "No finding"})
    v1, v2 = ModelVersionFactory(version=101), ModelVersionFactory(version=102)
    s1 = _suggest(1, v1, nodule, W1 + dt.timedelta(days=2))
    _review(s1, doctor, nodule, day=W1 + dt.timedelta(days=2), hours_after=2)
    s2 = _suggest(2, v1, nodule, W1 + dt.timedelta(days=3))
    wrong = _review(s2, doctor, normal, day=W1 + dt.timedelta(days=3), hours_after=4)
    _review(s2, doctor, nodule, day=W1 + dt.timedelta(days=3), hours_after=6, supersedes=wrong)
    s3 = _suggest(3, v2, normal, W2 + dt.timedelta(days=2))
    _review(s3, doctor, nodule, day=W2 + dt.timedelta(days=2), hours_after=1)
    s4 = _suggest(4, v2, normal, W2 + dt.timedelta(days=3))
    _review(s4, doctor, normal, day=W2 + dt.timedelta(days=3), hours_after=3)
    _suggest(5, v2, nodule, W2 + dt.timedelta(days=3))


def _table(rates) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {r.label: (r.n, r.agreed) for r in rates}


def test_overall_agreement_and_override_rate_count_current_reviews_only(known_reviews) -> None:
    stats = review_statistics()
    assert (stats.overall.n, stats.overall.agreed) == (4, 3)
    assert stats.overall.override_rate == pytest.approx(0.25)


def test_agreement_per_suggested_finding_and_per_model_version(known_reviews) -> None:
    stats = review_statistics()
    nodule = Finding.objects.get(code="nodule").name
    normal = Finding.objects.get(code="normal").name
    assert _table(stats.by_finding) == {nodule: (2, 2), normal: (2, 1)}
    assert _table(stats.by_version) == {"image v101": (2, 2), "image v102": (2, 1)}


def test_weekly_buckets_split_agreement_by_week_and_version(known_reviews) -> None:
    stats = review_statistics()
    assert stats.weeks == [W1, W2]
    assert [(r.week, r.n, r.agreed) for r in stats.weekly] == [(W1, 2, 2), (W2, 2, 1)]
    assert [(r.week, r.label, r.agreement) for r in stats.version_weekly] == [
        (W1, "image v101", 1.0),
        (W2, "image v102", 0.5),
    ]


def test_time_to_review_runs_from_the_suggestion_to_the_first_review(known_reviews) -> None:
    waits = review_statistics().waits
    assert [(w.week, w.n) for w in waits] == [(W1, 2), (W2, 2)]
    # Week 1: 2 h and 4 h (the first review of s2, not its later change of mind).
    assert (waits[0].mean_hours, waits[0].max_hours) == pytest.approx((3.0, 4.0))
    assert (waits[1].mean_hours, waits[1].max_hours) == pytest.approx((2.0, 3.0))


def test_the_figures_take_a_fixed_number_of_queries(
    known_reviews, django_assert_max_num_queries
) -> None:
    # Aggregates, not a loop over rows: the count does not grow with the data.
    with django_assert_max_num_queries(10):
        review_statistics()


def test_the_page_shows_charts_and_numbers_marked_synthetic(
    known_reviews, doctor, ml_admin
) -> None:
    for user in (doctor, ml_admin):
        client = Client()
        client.force_login(user)
        body = client.get(reverse("diagnosis:stats")).content.decode()
        assert body.count("<svg") == 4
        assert "<script" not in body.split("<main>")[1]
        assert 'data-testid="override-rate">0.250<' in body
        assert "image v102" in body and "SYNTHETIC DATA" in body


def test_nurses_do_not_see_the_statistics(nurse) -> None:
    client = Client()
    client.force_login(nurse)
    assert client.get(reverse("diagnosis:stats")).status_code == 403


def test_the_page_says_so_when_there_is_nothing_to_count(doctor) -> None:
    client = Client()
    client.force_login(doctor)
    body = client.get(reverse("diagnosis:stats")).content.decode()
    assert "No reviews yet" in body and "SYNTHETIC DATA" not in body


def test_a_finding_name_cannot_inject_markup_into_the_charts(known_reviews, doctor) -> None:
    Finding.objects.filter(code="nodule").update(name="<script>alert(1)</script>")
    client = Client()
    client.force_login(doctor)
    body = client.get(reverse("diagnosis:stats")).content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)" in body


def test_the_page_shows_the_last_weeks_and_the_period_picked(known_reviews, doctor) -> None:
    """Twelve weeks by default: a review of twenty weeks ago is counted only when the reader
    asks for a longer period; the page reads what it shows, not every week ever reviewed."""
    nodule = Finding.objects.get(code="nodule")
    old = W1 - dt.timedelta(weeks=17)
    _review(_suggest(9, ModelVersionFactory(version=103), nodule, old), doctor, nodule,
            day=old, hours_after=1)  # fmt: skip
    client = Client()
    client.force_login(doctor)

    default = client.get(reverse("diagnosis:stats")).content.decode()
    assert "The last 12 weeks" in default and "image v103" not in default
    assert 'data-testid="override-rate">0.250<' in default

    longer = client.get(reverse("diagnosis:stats"), {"weeks": 26}).content.decode()
    assert "The last 26 weeks" in longer and "image v103" in longer
    assert 'data-testid="override-rate">0.200<' in longer  # 1 override in 5 reviews

    assert review_statistics(since=stats_window_start(weeks=12)).overall.n == 4
    assert review_statistics().overall.n == 5


def test_a_period_the_page_does_not_offer_is_refused_with_the_default_shown(
    known_reviews, doctor
) -> None:
    client = Client()
    client.force_login(doctor)
    answer = client.get(reverse("diagnosis:stats"), {"weeks": "9999"})
    body = answer.content.decode()
    assert answer.status_code == 400
    assert "&#x27;9999&#x27; is not a period this page offers" in body
    assert "The last 12 weeks" in body and 'data-testid="override-rate">0.250<' in body
    # Digits Python reads as digits but not as a number, and a number too long to convert.
    for weeks in ("\u00b2", "1" * 5000, "12 ", "-4"):
        assert client.get(reverse("diagnosis:stats"), {"weeks": weeks}).status_code == 400


def test_agreement_counts_the_reviews_of_the_period_and_waits_its_suggestions(doctor) -> None:
    """A review written this week of a suggestion made long before: its agreement is this
    week's, its time to review belongs to the suggestion's week, outside the period."""
    nodule, _ = Finding.objects.get_or_create(code="nodule", defaults={"name": "Nodule"})
    old = stats_window_start(weeks=4) - dt.timedelta(weeks=20)
    recent = stats_window_start(weeks=4) + dt.timedelta(days=1)
    _review(_suggest(1, ModelVersionFactory(version=104), nodule, old), doctor, nodule,
            day=recent, hours_after=1)  # fmt: skip
    stats = review_statistics(since=stats_window_start(weeks=4))
    assert (stats.overall.n, stats.overall.agreed) == (1, 1)
    assert stats.waits == []
    client = Client()
    client.force_login(doctor)
    body = client.get(reverse("diagnosis:stats"), {"weeks": 4}).content.decode()
    assert "agreement and overrides count the reviews made since then" in body
