"""QIDO-RS query parameters (PS3.18 8.3.4) parsed into ORM filters.

Matching follows PS3.4 C.2.2.2: an empty value matches everything; UIDs match one of a list
(comma- or backslash-separated); strings match exactly or with ``*``/``?`` wildcards; dates
match one date or a range ``YYYYMMDD-YYYYMMDD`` (either end may be left open); Patient's
Name matches case-insensitively.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import Exists, OuterRef, Q

from ..models import Series
from .json import keyword_of, tag_of

Level = Literal["study", "series", "instance"]
_ORDER: dict[str, int] = {"study": 0, "series": 1, "instance": 2}

# The most results one response holds; a client pages with limit and offset beyond it.
MAX_RESULTS = 1000

# keyword -> (level, ORM field relative to that level's model, kind of matching)
MATCHABLE: dict[str, tuple[Level, str, str]] = {
    "StudyInstanceUID": ("study", "study_instance_uid", "uid"),
    "PatientID": ("study", "patient__mrn", "string"),
    "PatientName": ("study", "patient__name", "pn"),
    "PatientBirthDate": ("study", "patient__birth_date", "date"),
    "PatientSex": ("study", "patient__sex", "string"),
    "StudyDate": ("study", "study_date", "date"),
    "AccessionNumber": ("study", "accession_number", "string"),
    "StudyDescription": ("study", "description", "string"),
    "ModalitiesInStudy": ("study", "", "modalities"),
    "SeriesInstanceUID": ("series", "series_instance_uid", "uid"),
    "Modality": ("series", "modality", "string"),
    "SeriesDescription": ("series", "description", "string"),
    "BodyPartExamined": ("series", "body_part", "string"),
    "SOPInstanceUID": ("instance", "sop_instance_uid", "uid"),
    "SOPClassUID": ("instance", "sop_class_uid", "uid"),
    "InstanceNumber": ("instance", "instance_number", "int"),
}

# How each queried model reaches the model of each level.
_PREFIX: dict[str, dict[str, str]] = {
    "study": {"study": ""},
    "series": {"study": "study__", "series": ""},
    "instance": {"study": "series__study__", "series": "series__", "instance": ""},
}


class QueryError(ValueError):
    """A query parameter cannot be understood; the message names it and says what is expected."""


@dataclass
class QidoQuery:
    filters: list[tuple[str, str]] = field(default_factory=list)  # (keyword, value)
    include: set[str] = field(default_factory=set)  # tags; "all" allowed
    fuzzy: bool = False
    limit: int = MAX_RESULTS
    offset: int = 0
    warnings: list[str] = field(default_factory=list)


def _int_param(name: str, value: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise QueryError(f"{name} must be at least {minimum}, not {number}.")
    return number


def parse_query(params: Mapping[str, Sequence[str]], *, level: Level) -> QidoQuery:
    """Parse the query string of a search at ``level`` (a QueryDict's ``.lists()`` works).

    Raises QueryError for a malformed value or a key that is neither a QIDO-RS parameter nor
    a DICOM attribute. Attributes this server cannot match on at this level are ignored and
    reported in ``warnings`` (PS3.18 asks for a Warning header then).
    """
    query = QidoQuery()
    for key, values in params.items():
        if key == "limit":
            query.limit = _int_param("limit", values[-1], minimum=1)
        elif key == "offset":
            query.offset = _int_param("offset", values[-1], minimum=0)
        elif key == "fuzzymatching":
            value = values[-1].strip().lower()
            if value not in {"true", "false"}:
                raise QueryError(f"fuzzymatching must be true or false, not {values[-1]!r}.")
            query.fuzzy = value == "true"
        elif key == "includefield":
            for value in values:
                for item in filter(None, (v.strip() for v in value.split(","))):
                    if item.lower() == "all":
                        query.include.add("all")
                        continue
                    tag = tag_of(item)
                    if tag is None:
                        raise QueryError(
                            f"includefield names {item!r}, which is not a DICOM attribute "
                            "keyword or tag."
                        )
                    query.include.add(tag)
        else:
            tag = tag_of(key)
            if tag is None:
                raise QueryError(
                    f"{key!r} is not a DICOM attribute keyword or tag, nor a QIDO-RS "
                    "parameter (limit, offset, includefield, fuzzymatching)."
                )
            keyword = keyword_of(tag)
            spec = MATCHABLE.get(keyword)
            if spec is None or _ORDER[spec[0]] > _ORDER[level]:
                query.warnings.append(
                    f"{keyword} is not supported for matching in a {level} search and was ignored"
                )
                continue
            # A list of UIDs may also come as the key repeated (as dicomweb-client sends it).
            kind = spec[2]
            value = ",".join(values) if kind in {"uid", "modalities"} else values[-1]
            value = value.strip().strip(",")
            if value:
                _check_value(keyword, kind, value)
                query.filters.append((keyword, value))
    if query.limit > MAX_RESULTS:
        query.warnings.append(f"limit was lowered to this server's maximum of {MAX_RESULTS}")
        query.limit = MAX_RESULTS
    return query


def _check_value(keyword: str, kind: str, value: str) -> None:
    if kind == "date":
        _date_range(keyword, value)
    elif kind == "int":
        _int_param(keyword, value, minimum=-(2**31))


def _date(keyword: str, text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise QueryError(
            f"{keyword} must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD, not {text!r}."
        ) from None


def _date_range(keyword: str, value: str) -> tuple[dt.date | None, dt.date | None]:
    if "-" not in value:
        day = _date(keyword, value)
        return day, day
    start, _, end = value.partition("-")
    if not start and not end:
        raise QueryError(f"{keyword} range {value!r} has neither a start nor an end.")
    return (
        _date(keyword, start) if start else None,
        _date(keyword, end) if end else None,
    )


def _wildcard_regex(value: str) -> str:
    return (
        "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value) + "$"
    )


def _uids(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,\\]", value) if v.strip()]


def _match(kind: str, path: str, value: str, *, fuzzy: bool, prefix: str) -> Q:
    if kind == "uid":
        return Q(**{f"{path}__in": _uids(value)})
    if kind == "int":
        return Q(**{path: int(value)})
    if kind == "date":
        start, end = _date_range(path, value)
        q = Q()
        if start:
            q &= Q(**{f"{path}__gte": start})
        if end:
            q &= Q(**{f"{path}__lte": end})
        return q
    if kind == "modalities":
        series = Series.objects.filter(study=OuterRef(f"{prefix}pk"), modality__in=_uids(value))
        return Q(Exists(series))
    if kind == "pn":
        # Names are stored with DICOM's '^' component separators turned into spaces, and
        # only the alphabetic group ('=' separates the ideographic and phonetic ones).
        name = value.split("=")[0].replace("^", " ").strip()
        if fuzzy:
            # Fuzzy: every word given must begin some word of the name, in any case.
            words = [w for w in re.split(r"[\s*?]+", name) if w]
            q = Q()
            for word in words:
                q &= Q(**{f"{path}__iregex": r"(^|\s)" + re.escape(word)})
            return q
        if "*" in name or "?" in name:
            return Q(**{f"{path}__iregex": _wildcard_regex(name)})
        return Q(**{f"{path}__iexact": name})
    if "*" in value or "?" in value:
        return Q(**{f"{path}__regex": _wildcard_regex(value)})
    return Q(**{path: value})


def query_filter(query: QidoQuery, *, level: Level) -> Q:
    """The filters of ``query`` as one Q on the model of ``level``."""
    q = Q()
    for keyword, value in query.filters:
        attr_level, field_name, kind = MATCHABLE[keyword]
        prefix = _PREFIX[level][attr_level]
        q &= _match(kind, prefix + field_name, value, fuzzy=query.fuzzy, prefix=prefix)
    return q


def unsupported_includes(query: QidoQuery, *, available: set[str]) -> list[str]:
    """includefield tags this server cannot return (it returns what its database holds)."""
    return sorted(keyword_of(t) for t in query.include - available - {"all"})
