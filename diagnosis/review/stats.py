"""How often doctors agree with the AI, and how long suggestions wait for a doctor.

The figures come from summaries grouped by week: agreement per week, suggested finding and
model version (:class:`~diagnosis.registry.models.ReviewAgreementWeek`), and time to the
first review per week of suggestions (:class:`~diagnosis.registry.models.ReviewWaitWeek`).
On PostgreSQL triggers keep them as reviews and suggestions are written (migration
``diagnosis 0018_summaries``), so a page reads a few hundred rows whatever the number of
reviews; whatever the triggers cannot follow exactly marks them stale, and the next page
view rebuilds them from the reviews under a lock (:func:`summaries_rebuild`; the migration
built them first). On SQLite the same figures are counted live, in grouped queries. Either way the
page takes a fixed number of queries. The page shows the weeks from a start (the last
``MEDASSIST_STATS_WEEKS`` by default, :func:`stats_window_start`), so it reads and draws what
it shows, not every week since the first review. The charts are inline SVG drawn here, with no
JavaScript and nothing from a CDN.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import (
    Finding,
    ModelVersion,
    ReviewAgreementWeek,
    ReviewStatsState,
    ReviewWaitWeek,
)
from diagnosis.review.models import Review

# A review's action compares the doctor's finding with the suggestion shown: "accept" is
# agreement, "correct" an override. A rejected (non-diagnostic) image is neither, so only
# these two count.
AGREE = Review.Action.ACCEPT
OVERRIDE = Review.Action.CORRECT
# The advisory lock the summaries' triggers take shared and a rebuild takes exclusively
# ("MASTAT"; the same number is in migration diagnosis 0018_summaries).
STATS_LOCK = 0x4D41_5354_4154


@dataclass
class Rate:
    """Agreement among ``n`` reviews of one group (a week, a finding, a model version)."""

    label: str
    n: int
    agreed: int
    week: dt.date | None = None

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.n if self.n else None

    @property
    def override_rate(self) -> float | None:
        return (self.n - self.agreed) / self.n if self.n else None


@dataclass
class ReviewWait:
    """Time from a suggestion to the first clinician review of its image, for one week."""

    week: dt.date
    n: int
    mean_hours: float
    max_hours: float


@dataclass
class ReviewStatistics:
    weeks: list[dt.date]
    overall: Rate
    weekly: list[Rate]
    by_finding: list[Rate]  # totals, one per finding the AI suggested
    by_version: list[Rate]  # totals, one per model version
    finding_weekly: list[Rate]
    version_weekly: list[Rate]
    waits: list[ReviewWait]
    synthetic: bool
    charts: dict[str, SafeString] = field(default_factory=dict)


@dataclass(frozen=True)
class _Figures:
    """What the page is made of, however it was counted: agreement per (week, top finding
    id or 0, model version id) as (n, agreed), the waits per week, and whether synthetic data
    is involved."""

    agreement: list[tuple[dt.date, int, int, int, int]]
    waits: list[ReviewWait]
    synthetic: bool


def _reviews() -> QuerySet[Review]:
    """Current clinician reviews of images that had a suggestion (one per reader's chain)."""
    return Review.objects.filter(
        source=Review.Source.CLINICIAN,
        suggestion__isnull=False,
        superseded_by__isnull=True,
        action__in=[AGREE, OVERRIDE],
    )


def _date(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _version_label(task: str, version: int) -> str:
    return f"{task} v{version}"


def _live_figures(since: dt.date | None = None) -> _Figures:
    """The figures counted from the reviews themselves (SQLite, and what a rebuild must
    match): three grouped queries; from the week of ``since`` on (a Monday), if given."""
    reviews, suggestions = _reviews(), Suggestion.objects.filter(status=Suggestion.Status.OK)
    if since is not None:
        # Weeks are the server's (TruncWeek): from that Monday's midnight, local time.
        start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
        reviews = reviews.filter(created_at__gte=start)
        suggestions = suggestions.filter(created_at__gte=start)
    agreement = [
        (
            _date(row["week"]),
            row["suggestion__top_finding_id"] or 0,
            row["suggestion__model_version_id"],
            row["n"],
            row["agreed"],
        )
        for row in reviews.annotate(week=TruncWeek("created_at"))
        .values("week", "suggestion__top_finding_id", "suggestion__model_version_id")
        .annotate(n=Count("pk"), agreed=Count("pk", filter=Q(action=AGREE)))
        .order_by()
    ]
    first_review_at = (
        Review.objects.filter(
            instance=OuterRef("instance"),
            source=Review.Source.CLINICIAN,
            created_at__gte=OuterRef("created_at"),
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    waited = (
        suggestions.annotate(first_review_at=Subquery(first_review_at))
        .filter(first_review_at__isnull=False)
        .annotate(
            week=TruncWeek("created_at"),
            wait=ExpressionWrapper(
                F("first_review_at") - F("created_at"), output_field=DurationField()
            ),
        )
        .values("week")
        .annotate(n=Count("pk"), total=Sum("wait"), longest=Max("wait"))
        .order_by("week")
    )
    waits = [
        ReviewWait(
            week=_date(row["week"]),
            n=row["n"],
            mean_hours=_hours(row["total"]) / row["n"],
            max_hours=_hours(row["longest"]),
        )
        for row in waited
    ]
    synthetic = Review.objects.filter(
        Q(instance__series__study__patient__is_synthetic=True)
        | Q(suggestion__model_version__trained_on_synthetic_data=True),
        source=Review.Source.CLINICIAN,
    ).exists()
    return _Figures(agreement, waits, synthetic)


def _summary_fresh(state: ReviewStatsState | None, tz: str) -> bool:
    return state is not None and not state.stale and state.time_zone == tz


def summaries_rebuild(*, force: bool = False) -> bool:
    """Rebuild the statistics summaries from the reviews (PostgreSQL) unless they are fresh;
    return whether it rebuilt. One query.

    ``diagnosis_stats_rebuild`` (migration 0018, beside the triggers it must agree with)
    takes :data:`STATS_LOCK` exclusively: reviews committed before are in the rebuilt rows,
    and the triggers of reviews written meanwhile wait, then add theirs. It costs one pass over
    the reviews and suggestions (seconds at a million studies, while new reviews wait): only
    the page view after a change the triggers could not follow pays it, or after the server's
    time zone changed, or the summaries were emptied (a test database's flush).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT diagnosis_stats_rebuild(%s, %s)",
            [timezone.get_current_timezone_name(), force],
        )
        return bool(cursor.fetchone()[0])


def _summary_figures(since: dt.date | None = None) -> _Figures:
    """The figures from the summaries the triggers keep (PostgreSQL), rebuilt first if
    stale: three small reads; from the week of ``since`` on, if given."""
    tz = timezone.get_current_timezone_name()
    state = ReviewStatsState.objects.filter(pk=1).first()
    if state is None or not _summary_fresh(state, tz):
        summaries_rebuild()
        state = ReviewStatsState.objects.get(pk=1)
    weeks = Q(week__gte=since) if since is not None else Q()
    agreement = list(
        ReviewAgreementWeek.objects.filter(weeks, n__gt=0).values_list(
            "week", "finding_key", "version_key", "n", "agreed"
        )
    )
    waits = [
        ReviewWait(week=week, n=n, mean_hours=total / n / 3600, max_hours=longest / 3600)
        for week, n, total, longest in ReviewWaitWeek.objects.filter(weeks, n__gt=0)
        .order_by("week")
        .values_list("week", "n", "total_seconds", "longest_seconds")
    ]
    return _Figures(agreement, waits, state.synthetic)


def _rates(
    rows: Iterable[tuple[Any, dt.date | None, int, int]],
    order: dict[Any, Any],
    labels: dict[Any, str],
) -> list[Rate]:
    """Summed (n, agreed) per (key, week) as Rates, ordered by (week, key's order)."""
    totals: dict[tuple[Any, dt.date | None], list[int]] = defaultdict(lambda: [0, 0])
    for key, week, n, agreed in rows:
        totals[(key, week)][0] += n
        totals[(key, week)][1] += agreed
    ordered = sorted(totals, key=lambda kw: (kw[1] or dt.date.min, order[kw[0]]))
    return [Rate(labels[key], *totals[(key, week)], week) for key, week in ordered]


# The periods a reader can pick on the statistics page, in weeks.
STATS_PERIODS = (4, 12, 26, 52, 104)


def stats_window_start(*, weeks: int, today: dt.date | None = None) -> dt.date:
    """The Monday that begins the last ``weeks`` weeks, this week included (server time)."""
    today = today or timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)


def review_statistics(*, since: dt.date | None = None) -> ReviewStatistics:
    """Agreement, override rate and time to review, in weekly buckets (server time zone),
    from the week of ``since`` (a Monday, :func:`stats_window_start`) on; None: every week."""
    count = _summary_figures if connection.vendor == "postgresql" else _live_figures
    figures = count(since)
    finding_ids = {f for _, f, _, _, _ in figures.agreement}
    version_ids = {v for _, _, v, _, _ in figures.agreement}
    findings = {
        pk: (code, name)
        for pk, code, name in Finding.objects.filter(pk__in=finding_ids).values_list(
            "pk", "code", "name"
        )
    }
    versions = {
        pk: (task, version)
        for pk, task, version in ModelVersion.objects.filter(pk__in=version_ids).values_list(
            "pk", "task", "version"
        )
    }
    # By code then "(none)" last, as the page always listed them; versions by task, number.
    finding_order = {f: (f not in findings, findings.get(f, ("",))[0]) for f in finding_ids}
    finding_labels = {f: findings[f][1] if f in findings else "(none)" for f in finding_ids}
    version_order = {v: versions.get(v, ("", 0)) for v in version_ids}
    version_labels = {v: _version_label(*version_order[v]) for v in version_ids}
    rows = figures.agreement
    total_n = sum(n for *_, n, _ in rows)
    overall = Rate("all", total_n, sum(agreed for *_, agreed in rows))
    weekly = _rates(((None, w, n, a) for w, _, _, n, a in rows), {None: 0}, {None: "all"})
    by_finding = _rates(((f, None, n, a) for _, f, _, n, a in rows), finding_order, finding_labels)
    by_version = _rates(((v, None, n, a) for _, _, v, n, a in rows), version_order, version_labels)
    finding_weekly = _rates(((f, w, n, a) for w, f, _, n, a in rows), finding_order, finding_labels)
    version_weekly = _rates(((v, w, n, a) for w, _, v, n, a in rows), version_order, version_labels)
    waits = figures.waits
    weeks = sorted({r.week for r in weekly if r.week} | {w.week for w in waits})
    stats = ReviewStatistics(
        weeks=weeks,
        overall=overall,
        weekly=weekly,
        by_finding=by_finding,
        by_version=by_version,
        finding_weekly=finding_weekly,
        version_weekly=version_weekly,
        waits=waits,
        synthetic=figures.synthetic,
    )
    stats.charts = {
        "version": line_chart(
            _series(version_weekly), weeks, title="Agreement by model version, per week"
        ),
        "finding": line_chart(
            _series(finding_weekly), weeks, title="Agreement by suggested finding, per week"
        ),
        "override": bar_chart(
            [(r.week, r.override_rate or 0.0) for r in weekly if r.week],
            title="Override rate per week",
            percent=True,
        ),
        "wait": bar_chart(
            [(w.week, w.mean_hours) for w in waits],
            title="Mean hours from suggestion to first review, per week",
            percent=False,
        ),
    }
    return stats


def _hours(value: dt.timedelta | float | None) -> float:
    if value is None:
        return 0.0
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 3600
    return float(value) / 3_600_000_000  # backends that return microseconds


def _series(rates: list[Rate]) -> dict[str, dict[dt.date, float]]:
    series: dict[str, dict[dt.date, float]] = {}
    for r in rates:
        if r.week is not None and r.agreement is not None:
            series.setdefault(r.label, {})[r.week] = r.agreement
    return series


# Colours distinguishable on the dark theme and by most colour-blind readers (Okabe-Ito).
PALETTE = ["#56b4e9", "#e69f00", "#009e73", "#f0e442", "#cc79a7", "#d55e00", "#0072b2", "#999999"]
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 48, 160, 28, 36
PLOT_H = HEIGHT - TOP - BOTTOM
TEXT = '<text x="{}" y="{}" fill="currentColor" font-size="{}" text-anchor="{}">{}</text>'

# Every piece of SVG is built with format_html, which escapes each value put into it (a
# finding name is typed by an admin), so the joined chart is safe to insert as it is.


def _n(value: float) -> str:
    return f"{value:.1f}"


def _frame(title: str, y_labels: list[tuple[float, str]]) -> list[SafeString]:
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}" class="chart"><title>{}</title>',
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            title,
            title,
        ),
        format_html(TEXT, LEFT, 16, 13, "start", title),
    ]
    for frac, label in y_labels:
        y = TOP + PLOT_H * (1 - frac)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#2a3139" stroke-width="1"/>',
                LEFT,
                WIDTH - RIGHT,
                _n(y),
                _n(y),
            )
        )
        parts.append(format_html(TEXT, LEFT - 6, _n(y + 4), 11, "end", label))
    return parts


def _x(i: int, count: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + (plot_w * (i + 0.5) / count if count else 0)


def _week_labels(weeks: list[dt.date]) -> list[SafeString]:
    # At most about eight labels fit under the axis; the table has every week.
    step = max(1, -(-len(weeks) // 8))
    return [
        format_html(
            TEXT, _n(_x(i, len(weeks))), HEIGHT - BOTTOM + 16, 11, "middle", f"{week:%d %b}"
        )
        for i, week in enumerate(weeks)
        if i % step == 0
    ]


def _joined(parts: list[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _empty() -> SafeString:
    return format_html(
        TEXT, _n((WIDTH - RIGHT + LEFT) / 2), HEIGHT / 2, 12, "middle", "No reviews yet"
    )


def line_chart(
    series: dict[str, dict[dt.date, float]], weeks: list[dt.date], *, title: str
) -> SafeString:
    """One line per series over the weeks, values 0..1 (shown as %); gaps where no data."""
    parts = _frame(title, [(f, f"{f:.0%}") for f in (0, 0.25, 0.5, 0.75, 1)])
    if not weeks or not series:
        parts.append(_empty())
    for n, (label, points) in enumerate(sorted(series.items())):
        colour = PALETTE[n % len(PALETTE)]
        coords = [
            (_x(i, len(weeks)), TOP + PLOT_H * (1 - points[w]))
            for i, w in enumerate(weeks)
            if w in points
        ]
        if len(coords) > 1:
            path = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
            parts.append(
                format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>',
                    path,
                    colour,
                )
            )
        for x, y in coords:
            parts.append(
                format_html('<circle cx="{}" cy="{}" r="3" fill="{}"/>', _n(x), _n(y), colour)
            )
        legend_y = TOP + 14 * n + 6
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>',
                WIDTH - RIGHT + 12,
                legend_y - 8,
                colour,
            )
        )
        parts.append(format_html(TEXT, WIDTH - RIGHT + 26, legend_y + 1, 11, "start", label[:22]))
    parts += _week_labels(weeks)
    parts.append(format_html("</{}>", "svg"))  # format_html wants at least one argument
    return _joined(parts)


def bar_chart(bars: list[tuple[dt.date, float]], *, title: str, percent: bool) -> SafeString:
    """One bar per week; ``percent`` draws 0..100 %, otherwise 0..the largest value."""
    top = 1.0 if percent else max([v for _, v in bars] + [1e-9])
    ticks = [(f, f"{f:.0%}" if percent else f"{top * f:.1f}") for f in (0, 0.5, 1)]
    parts = _frame(title, ticks)
    if not bars:
        parts.append(_empty())
    bar_w = max(2.0, (WIDTH - LEFT - RIGHT) / max(1, len(bars)) * 0.7)
    for i, (week, value) in enumerate(bars):
        h = PLOT_H * value / top
        shown = f"{value:.0%}" if percent else f"{value:.1f} h"
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
                _n(_x(i, len(bars)) - bar_w / 2),
                _n(TOP + PLOT_H - h),
                _n(bar_w),
                _n(h),
                PALETTE[0],
                f"{week:%Y-%m-%d}",
                shown,
            )
        )
    parts += _week_labels([w for w, _ in bars])
    parts.append(format_html("</{}>", "svg"))  # format_html wants at least one argument
    return _joined(parts)
