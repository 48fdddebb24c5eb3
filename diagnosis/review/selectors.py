"""Reads of the review workflow: the worklist, one case's reading, and the current labels."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection, models
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import cached_property

from diagnosis.inference.models import Suggestion
from diagnosis.inference.selectors import current_suggestions
from diagnosis.registry.models import NORMAL_CODE
from diagnosis.review.models import ReadingState, Review, ReviewAssignment, StudyFinding
from imaging.models import Instance, Series, Study


def double_reading() -> bool:
    return bool(settings.MEDASSIST_DOUBLE_READING)


def multi_label() -> bool:
    return bool(settings.MEDASSIST_MULTI_LABEL)


def worklist_page_size() -> int:
    return int(settings.MEDASSIST_WORKLIST_PAGE_SIZE)


def worklist_poll_seconds() -> int:
    return int(settings.MEDASSIST_WORKLIST_POLL_SECONDS)


class Status:
    AWAITING = "awaiting"
    REVIEWED = "reviewed"
    ADJUDICATION = "adjudication"
    ALL = "all"
    CHOICES = [
        (AWAITING, "Awaiting review"),
        (ADJUDICATION, "Needs adjudication"),
        (REVIEWED, "Reviewed"),
        (ALL, "All"),
    ]


@dataclass(frozen=True)
class WorklistFilters:
    """What the doctor narrowed the worklist to; parsed leniently from the query string."""

    status: str = Status.AWAITING
    modality: str = ""
    finding: str = ""  # a finding code of the AI suggestion
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mine: bool = False
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> WorklistFilters:
        errors: list[str] = []

        def date(name: str, label: str) -> dt.date | None:
            raw = (query.get(name) or "").strip()
            if not raw:
                return None
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                errors.append(f"The {label} date {raw!r} is not a date (use YYYY-MM-DD).")
                return None

        status = query.get("status") or Status.AWAITING
        if status not in {c for c, _ in Status.CHOICES}:
            errors.append(f"Unknown status {status!r}; showing cases awaiting review.")
            status = Status.AWAITING
        return cls(
            status=status,
            modality=(query.get("modality") or "").strip().upper()[:16],
            finding=(query.get("finding") or "").strip()[:64],
            date_from=date("from", "from"),
            date_to=date("to", "to"),
            mine=(query.get("mine") or "") in {"1", "on", "true"},
            errors=tuple(errors),
        )

    def query_string(self) -> str:
        """The filters as a query string, to keep them on polling, paging and next-case links."""
        params: dict[str, str] = {"status": self.status}
        if self.modality:
            params["modality"] = self.modality
        if self.finding:
            params["finding"] = self.finding
        if self.date_from:
            params["from"] = self.date_from.isoformat()
        if self.date_to:
            params["to"] = self.date_to.isoformat()
        if self.mine:
            params["mine"] = "1"
        return urlencode(params)


def latest_suggestions() -> QuerySet[Suggestion]:
    """Suggestions no suggestion of the same instance supersedes (one per instance): the one
    of the version promoted last, so a rollback brings its version's rows back (see
    :func:`diagnosis.inference.selectors.current_suggestions`)."""
    return current_suggestions()


def suggestion_priority() -> Case:
    """Urgency of one suggestion as one number: larger is more urgent.

    Needs attention (unsure, out of scope, failed) comes first, then an abnormal finding by
    its probability, then "normal" with the least sure first, then images without a
    suggestion yet. Each band is one unit wide, so the band always wins over probability.
    """
    p = Coalesce(F("top_probability"), Value(0.0))
    return Case(
        When(Q(needs_attention=True) | Q(status=Suggestion.Status.FAILED), then=3.0 + p),
        When(~Q(top_finding__code=NORMAL_CODE), then=2.0 + p),
        default=1.0 + (1.0 - p),
        output_field=FloatField(),
    )


class UrgencyBand(models.TextChoices):
    """The bands of :func:`suggestion_priority`, as the worklist names them."""

    ATTENTION = "attention", "Needs attention"
    ABNORMAL = "abnormal", "Abnormal"
    ROUTINE = "routine", "Routine"
    PENDING = "pending", "No AI result yet"


def urgency_band(suggestion: Suggestion | None) -> UrgencyBand:
    """The band :func:`suggestion_priority` puts this suggestion in (same rule, in Python)."""
    if suggestion is None:
        return UrgencyBand.PENDING
    if suggestion.needs_attention or suggestion.status == Suggestion.Status.FAILED:
        return UrgencyBand.ATTENTION
    if suggestion.top_finding is None or suggestion.top_finding.code != NORMAL_CODE:
        return UrgencyBand.ABNORMAL
    return UrgencyBand.ROUTINE


def _awaiting_instances(*, user: AbstractBaseUser | None) -> QuerySet[Instance]:
    """Instances that still need a read (from ``user``, under double reading)."""
    done = ReadingState.objects.filter(instance_id=OuterRef("pk"))
    if double_reading() and user is not None:
        # My own first read is done for me; the case waits for a colleague's.
        done = done.filter(
            Q(status__in=[ReadingState.Status.REVIEWED, ReadingState.Status.ADJUDICATION])
            | Q(first_reader=user)
        )
    return Instance.objects.exclude(Exists(done))


def worklist_queryset(*, user: AbstractBaseUser, filters: WorklistFilters) -> QuerySet[Study]:
    """Studies in worklist order, most urgent first, then the longest waiting.

    The studies of the status (:func:`worklist_status_queryset`) that pass the other filters
    (:func:`worklist_row_filter`).
    """
    base = worklist_status_queryset(user=user, filters=filters)
    return base.filter(worklist_row_filter(user=user, filters=filters))


def worklist_status_queryset(
    *, user: AbstractBaseUser, filters: WorklistFilters
) -> QuerySet[Study]:
    """The studies of the filters' status alone, in worklist order.

    Lean on purpose: the filters and the order only, on the worklist state each study row
    carries (``worklist_priority``, ``unread``, ``second_read_pending``, ``in_adjudication``,
    kept by the review and inference services), so that a page is an index scan of the
    ``study_worklist_*`` indexes however many studies there are. ``priority`` is annotated
    for the keyset navigation. :func:`worklist_rows_annotate` adds what a page shows.
    """
    qs = Study.objects.annotate(priority=F("worklist_priority"))
    double = double_reading()
    if double:
        # My own first read is done for me, not for my colleagues: the stored flags give the
        # candidates, the reading states of their images decide (for this doctor).
        awaiting_me = Exists(_awaiting_instances(user=user).filter(series__study_id=OuterRef("pk")))
        pending = Q(unread=True) | Q(second_read_pending=True)
    if filters.status == Status.AWAITING:
        qs = qs.filter(in_adjudication=False)
        qs = qs.filter(pending & awaiting_me) if double else qs.filter(unread=True)
    elif filters.status == Status.ADJUDICATION:
        qs = qs.filter(in_adjudication=True)
    elif filters.status == Status.REVIEWED:
        qs = qs.filter(in_adjudication=False)
        qs = qs.filter(~pending | ~awaiting_me) if double else qs.filter(unread=False)
    return qs.order_by("-worklist_priority", "created_at", "pk")


def worklist_row_filter(*, user: AbstractBaseUser, filters: WorklistFilters) -> Q:
    """The filters other than the status, checked study by study along the status's index
    (modality, finding, dates, assigned to me); an empty Q when there are none."""
    q = Q()
    if filters.modality:
        q &= Q(Exists(Series.objects.filter(study_id=OuterRef("pk"), modality=filters.modality)))
    if filters.finding:
        # Kept with the urgency whenever suggestions are stored (study_urgency_refresh).
        q &= Q(
            Exists(
                StudyFinding.objects.filter(study_id=OuterRef("pk"), finding__code=filters.finding)
            )
        )
    if filters.date_from:
        q &= Q(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        q &= Q(created_at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    if filters.mine:
        q &= Q(Exists(ReviewAssignment.objects.filter(study_id=OuterRef("pk"), assignee=user)))
    return q


def _day_start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the server time zone (a range the index can use)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def worklist_rows_annotate(qs: QuerySet[Study], *, user: AbstractBaseUser) -> QuerySet[Study]:
    """Add what a worklist row shows, for the few studies of one page.

    ``key_suggestion_id`` (the most urgent latest suggestion), ``open_instance_id`` (the image
    to open: the first one still awaiting, else the first), ``modality``, ``rescored_by`` (the
    version number of a current suggestion that superseded another version's on the same
    image, e.g. after a re-score on a new champion; None if none did).
    """
    of_study = latest_suggestions().filter(instance__series__study_id=OuterRef("pk"))
    instances = Instance.objects.filter(series__study_id=OuterRef("pk")).order_by(
        "series_id", "instance_number", "pk"
    )
    awaiting = _awaiting_instances(user=user).filter(series__study_id=OuterRef("pk"))
    return qs.select_related("patient").annotate(
        key_suggestion_id=F("urgency__key_suggestion_id"),
        open_instance_id=Coalesce(
            Subquery(awaiting.order_by("series_id", "instance_number", "pk").values("pk")[:1]),
            Subquery(instances.values("pk")[:1]),
        ),
        modality=Subquery(
            Series.objects.filter(study_id=OuterRef("pk")).order_by("pk").values("modality")[:1]
        ),
        rescored_by=Subquery(
            of_study.filter(
                Exists(
                    Suggestion.objects.filter(instance_id=OuterRef("instance_id")).exclude(
                        model_version_id=OuterRef("model_version_id")
                    )
                )
            )
            .order_by("-model_version__version")
            .values("model_version__version")[:1]
        ),
    )


@dataclass
class WorklistRow:
    study: Study
    suggestion: Suggestion | None
    open_instance_id: int
    modality: str
    status: str
    band: UrgencyBand


class CappedPage(Page):
    """A page of a :class:`CappedPaginator`; past the cap, Next shows while pages are full."""

    rows_on_page: int | None = None
    # Reached through a Next link: whether a study follows the page (see worklist_page).
    more: bool | None = None
    # A page number past the numbered pages that was asked for (see worklist_page).
    asked_number: int | None = None

    def has_next(self) -> bool:
        if self.more is not None:
            return self.more
        paginator = self.paginator
        if getattr(paginator, "capped", False) and self.rows_on_page is not None:
            return self.rows_on_page >= paginator.per_page
        return super().has_next()


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows, so a page costs the same at any data size.

    Counting every study a filter matches grows with the table (x2.5 for x10 data with a
    modality filter at 100,000 studies); counting up to the cap does not. Past the cap the
    count is "more than ``cap``" and any page number is served (empty past the end).

    With a ``window`` (the list before ``row_filter``, in the same order) it examines at most
    the window's first ``window_size`` rows instead: ``count`` is how many of them pass the
    filter, exact when the window holds no more (else ``windowed``: a lower bound, and the
    pages it numbers are exact, as the first matches of the list are among those rows).
    Counting up to ``cap`` matches walked as many rows as it took to find them: every
    awaiting study of a rare modality, 500 ms at 10^6 studies (8x 10^5).
    """

    def __init__(
        self,
        object_list: QuerySet[Study],
        per_page: int,
        *,
        cap: int,
        window: QuerySet[Study] | None = None,
        row_filter: Q | None = None,
        window_size: int = 0,
    ) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap
        self.window = window
        self.row_filter = row_filter
        self.window_size = window_size

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        """(count, whether there may be more): one query."""
        if self.window is None or self.row_filter is None:
            count = self.object_list[: self.cap + 1].count()
            return count, count > self.cap
        # The filter on the window's first ids, study by study (as a condition inside the
        # window's own query, PostgreSQL hashed every series of the modality first: 30 ms
        # at 10^6 studies, growing with them).
        first = self.window.values("pk")[: self.window_size]
        counted = Study.objects.filter(pk__in=first).aggregate(
            examined=Count("pk"), matched=Count("pk", filter=self.row_filter)
        )
        # A full window: more studies of the status may follow it.
        return counted["matched"], counted["examined"] >= self.window_size

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def capped(self) -> bool:
        return self._counted[1]

    @property
    def windowed(self) -> bool:
        """The count is of the window's first ``window_size`` studies only (see the class)."""
        return self.capped and self.window is not None and self.row_filter is not None

    @property
    def numbered_pages(self) -> int:
        """How many pages a page number reaches (past the cap, Next goes on)."""
        if not self.capped:
            return self.num_pages
        if self.windowed:
            return max(1, min(math.ceil(self.count / self.per_page), self.cap // self.per_page))
        return max(1, self.cap // self.per_page)

    @property
    def cap_display(self) -> str:
        return f"{self.cap:,}"

    @property
    def window_display(self) -> str:
        return f"{self.window_size:,}"

    def validate_number(self, number: Any) -> int:
        if not self.capped:
            return super().validate_number(number)
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger("That page number is not an integer.") from exc
        if number < 1:
            raise EmptyPage("That page number is less than 1.")
        return number

    def page(self, number: Any) -> CappedPage:
        number = self.validate_number(number)
        if not self.capped:
            return super().page(number)  # type: ignore[return-value]
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)

    def _get_page(self, *args: Any, **kwargs: Any) -> CappedPage:
        return CappedPage(*args, **kwargs)


@dataclass(frozen=True)
class WorklistCursor:
    """A place in worklist order, (priority, received, id), as a Next or Previous link
    carries it: ``<priority>_<microseconds since 1970>_<id>``.

    The link carries the values the study had when the page was shown, not the study's id:
    a study re-scored meanwhile (a new image, a new champion) moves in the order, and
    following its id would skip or repeat the studies between its old and new places.
    """

    priority: float
    received: dt.datetime
    pk: int

    @classmethod
    def of(cls, study: Study) -> WorklistCursor:
        return cls(study.worklist_priority, study.created_at, study.pk)

    @classmethod
    def parse(cls, token: str | None) -> WorklistCursor | None:
        """The cursor a link carried, or None for anything that is not one."""
        parts = (token or "").split("_")
        if len(parts) != 3 or len(token or "") > 80:
            return None
        priority, micros, pk = parts
        try:
            value = float(priority)
            if not math.isfinite(value) or not micros.isdigit() or not pk.isdigit():
                return None
            received = _EPOCH + dt.timedelta(microseconds=int(micros))
        except (ValueError, OverflowError):
            return None
        return cls(value, received, int(pk))

    def __str__(self) -> str:
        micros = (self.received - _EPOCH) // dt.timedelta(microseconds=1)
        return f"{self.priority!r}_{micros}_{self.pk}"

    def beside(self, ordered: QuerySet[Study], *, previous: bool = False) -> QuerySet[Study]:
        """The studies of ``ordered`` after this place in worklist order (``previous``:
        before it, nearest first).

        Keyset on (priority, received, id): it costs the same at the top of the list and a
        million studies down. The bound on the priority alone comes first: it is what
        PostgreSQL can start the index scan at; the OR of the three cases is only a filter
        there (without the bound the scan walked from the top: 58 ms deep in 10^6 studies).
        """
        p, c, pk = self.priority, self.received, self.pk
        if previous:
            return ordered.filter(
                Q(priority__gte=p)
                & (
                    Q(priority__gt=p)
                    | Q(priority=p, created_at__lt=c)
                    | Q(priority=p, created_at=c, pk__lt=pk)
                )
            ).reverse()
        return ordered.filter(
            Q(priority__lte=p)
            & (
                Q(priority__lt=p)
                | Q(priority=p, created_at__gt=c)
                | Q(priority=p, created_at=c, pk__gt=pk)
            )
        )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def worklist_page(
    *,
    user: AbstractBaseUser,
    filters: WorklistFilters,
    page: int | str | None = 1,
    after: WorklistCursor | None = None,
    before: WorklistCursor | None = None,
) -> tuple[Page[Study], list[WorklistRow]]:
    """One page of the worklist in a constant number of queries (count, rows, suggestions).

    The count and the page's ids come from the lean ordered query (index scans); the row
    columns are computed for the page's studies only, also on a deep page, where an OFFSET
    would otherwise compute them for every study it skips. The Next and Previous links carry
    the place next to the page (``after`` / ``before``, see :class:`WorklistCursor`): a page
    reached through them is an index range at any depth, where ``page`` alone walks its
    offset; ``page`` then only numbers it, and whether there is a next page is whether a
    study follows (not the count, which studies read meanwhile have changed). The page's
    cursors are ``page.after_cursor`` and ``page.before_cursor``.
    """
    base = worklist_status_queryset(user=user, filters=filters)
    row_filter = worklist_row_filter(user=user, filters=filters)
    ordered = base.filter(row_filter)
    size = worklist_page_size()
    paginator = CappedPaginator(
        ordered,
        size,
        cap=int(settings.MEDASSIST_WORKLIST_COUNT_CAP),
        window=base if row_filter else None,
        row_filter=row_filter if row_filter else None,
        window_size=int(settings.MEDASSIST_WORKLIST_COUNT_WINDOW),
    )
    current = paginator.get_page(page)
    ids: list[int] | None = None
    if after is not None:
        ids = list(after.beside(ordered).values_list("pk", flat=True)[: size + 1])
        current.more = len(ids) > size  # type: ignore[attr-defined]
        ids = ids[:size]
        # The number the link gave (the paginator caps it at the pages the count makes).
        asked = str(page or "")
        if asked.isdigit() and 1 < int(asked) < 10**9:
            current.number = int(asked)
    elif before is not None and current.number > 1:
        ids = list(before.beside(ordered, previous=True).values_list("pk", flat=True)[:size])
        if len(ids) < size:  # the top of the list: its first page, as it is now
            current, ids = paginator.get_page(1), None
    deepest = paginator.numbered_pages
    if ids is None and paginator.capped and current.number > deepest:
        # Page numbers past the count cap are served as the deepest numbered page, which says
        # so; Next goes on from there by its place. An offset that deep would walk the index
        # as far as the number asks (54 ms for page 20,000 of 10^6 studies, x1.8 for x10).
        asked = current.number
        current = paginator.get_page(deepest)
        current.asked_number = asked  # type: ignore[attr-defined]
    if ids is None and paginator.windowed:
        # The count is of the window only: whether a study follows the page is asked (one
        # more id), so the last page has no Next to an empty one.
        bottom = (current.number - 1) * size
        ids = list(ordered.values_list("pk", flat=True)[bottom : bottom + size + 1])
        current.more = len(ids) > size  # type: ignore[attr-defined]
        ids = ids[:size]
    page_ids = current.object_list.values("pk") if ids is None else ids  # type: ignore[attr-defined]
    studies = list(
        worklist_rows_annotate(Study.objects.filter(pk__in=page_ids), user=user).order_by(
            "-worklist_priority", "created_at", "pk"
        )
    )
    current.rows_on_page = len(studies)  # type: ignore[attr-defined]
    if studies:
        current.after_cursor = str(WorklistCursor.of(studies[-1]))  # type: ignore[attr-defined]
        current.before_cursor = str(WorklistCursor.of(studies[0]))  # type: ignore[attr-defined]
    suggestions = Suggestion.objects.select_related("top_finding").in_bulk(
        [s.key_suggestion_id for s in studies if s.key_suggestion_id]  # type: ignore[attr-defined]
    )
    status = {
        Status.AWAITING: "Awaiting review",
        Status.ADJUDICATION: "Needs adjudication",
        Status.REVIEWED: "Reviewed",
    }.get(filters.status, "")
    rows = [
        WorklistRow(
            study=s,
            suggestion=suggestions.get(s.key_suggestion_id),  # type: ignore[attr-defined]
            open_instance_id=s.open_instance_id,  # type: ignore[attr-defined]
            modality=s.modality or "",  # type: ignore[attr-defined]
            status=status,
            band=urgency_band(suggestions.get(s.key_suggestion_id)),  # type: ignore[attr-defined]
        )
        for s in studies
    ]
    return current, rows


# The distinct modalities by a loose index scan: each step asks the ``series_modality`` index
# for the next larger value, so the cost is the number of modalities (a dozen), not of series.
# PostgreSQL and SQLite both run it; a plain DISTINCT reads every series.
_MODALITIES_SQL = """
WITH RECURSIVE m(modality) AS (
    SELECT min(modality) FROM {table} WHERE modality > ''
    UNION ALL
    SELECT (SELECT min(modality) FROM {table} WHERE modality > m.modality)
    FROM m WHERE m.modality IS NOT NULL
)
SELECT modality FROM m WHERE modality IS NOT NULL
"""


def worklist_modalities() -> list[str]:
    """The modalities of the stored series, sorted (for the worklist's filter)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MODALITIES_SQL.format(table=connection.ops.quote_name(Series._meta.db_table))
        )
        return [row[0] for row in cursor.fetchall()]


def worklist_neighbour(
    *,
    user: AbstractBaseUser,
    filters: WorklistFilters,
    study_id: int | None,
    previous: bool = False,
    after_instance_id: int | None = None,
) -> int | None:
    """The instance to open after (or before) ``study_id`` in worklist order, or None.

    Keyset navigation on (priority, received, id), so it costs the same on page 1 and page
    4,000. With ``after_instance_id`` another image of the same study still awaiting the
    doctor comes first, so a multi-image study is read through before moving on.
    """
    if after_instance_id is not None and study_id is not None:
        same = (
            _awaiting_instances(user=user)
            .filter(series__study_id=study_id)
            .exclude(pk=after_instance_id)
            .order_by("series_id", "instance_number", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if same is not None and filters.status == Status.AWAITING:
            return same
    qs = worklist_queryset(user=user, filters=filters)
    if study_id is not None:
        anchor = Study.objects.filter(pk=study_id).first()
        if anchor is not None:
            qs = WorklistCursor.of(anchor).beside(qs, previous=previous)
    row = worklist_rows_annotate(
        Study.objects.filter(pk__in=qs.values("pk")[:1]), user=user
    ).values("open_instance_id")
    first = row.first()
    return first["open_instance_id"] if first else None


@dataclass(frozen=True)
class CaseReading:
    """What the doctor may see of the colleagues' reads on this instance, and may do."""

    reviews: list[Review]  # the history shown; empty while a blind read is due
    blind: bool  # a colleague's read exists and is hidden until both are in
    status: str  # ReadingState status or "" when unread
    can_adjudicate: bool
    message: str
    superseded_ids: frozenset[int] = frozenset()


def case_reading(*, instance: Instance, user: AbstractBaseUser) -> CaseReading:
    """The review history the doctor may see: under double reading, blind until both read."""
    state = ReadingState.objects.filter(instance=instance).first()
    reviews = list(
        Review.objects.select_related("reviewer", "finding", "supersedes")
        .prefetch_related("findings")
        .filter(instance=instance)
        .order_by("-created_at", "-pk")
    )
    status = state.status if state else ""
    superseded = frozenset(r.supersedes_id for r in reviews if r.supersedes_id)
    if not double_reading():
        return CaseReading(reviews, False, status, False, "", superseded)
    readers = {r.reviewer_id for r in reviews if r.kind == Review.Kind.READ and r.reviewer_id}
    if status == ReadingState.Status.ADJUDICATION:
        can = user.pk not in readers
        message = (
            "The two readers disagree. Your review decides the label."
            if can
            else "The two readers disagree; a third doctor adjudicates."
        )
        return CaseReading(reviews, False, status, can, message, superseded)
    if status in {"", ReadingState.Status.ONE_READ}:
        own = [r for r in reviews if r.reviewer_id == user.pk]
        blind = any(r.reviewer_id != user.pk for r in reviews)
        message = (
            "Double reading: another doctor has read this image. Their label stays hidden "
            "until your independent read is in."
            if blind
            else "Double reading: a second doctor will read this image independently."
        )
        return CaseReading(own, blind, status, False, message, superseded)
    return CaseReading(reviews, False, status, False, "", superseded)


def current_label_reviews() -> QuerySet[Review]:
    """The review that is each instance's label: what training should learn from.

    One per labelled instance: the single read, the agreed second read, or the adjudication.
    Instances still waiting for a second read, disagreeing, or rejected as non-diagnostic
    have none. finetune.services.training_set should start from this instead of
    ``Review.objects.filter(superseded_by__isnull=True)``, which under double reading
    returns both readers' (possibly disagreeing) reads.
    """
    labels = ReadingState.objects.filter(
        status=ReadingState.Status.REVIEWED, label__isnull=False
    ).values("label_id")
    return Review.objects.filter(pk__in=labels).exclude(action=Review.Action.REJECT)
