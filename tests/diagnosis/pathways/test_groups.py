"""Diagnosis groups: a WHO block by default, any range of categories when a lead wants one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from diagnosis.pathways.groups import group_parse


def test_a_block_is_read_with_its_who_title_and_holds_the_codes_of_its_categories() -> None:
    group = group_parse(text="i20 - i25")
    assert (group.label, group.title) == ("I20-I25", "Ischaemic heart diseases")
    assert group.contains("I21.4") and group.contains("I25.9") and group.contains("I20")
    assert not group.contains("I26.9") and not group.contains("J18.9")


def test_one_code_stands_for_the_block_that_holds_it() -> None:
    assert group_parse(text="I21.4").label == "I20-I25"
    assert group_parse(text="j18").label == "J09-J18"


def test_a_range_of_the_hospital_s_own_is_titled_by_its_ends() -> None:
    group = group_parse(text="J45\u2013J46")  # an en dash, as pasted from a document
    assert group.label == "J45-J46"
    assert group.title == "Asthma to Status asthmaticus"
    assert group.contains("J45.0") and group.contains("J46")
    assert not group.contains("J44.9")
    assert group_parse(text="J45-J45").title == "Asthma"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Enter the diagnosis group"),
        ("chest pain", "is not an ICD-10 block or code"),
        ("I20-XYZ", "is not an ICD-10 block or code"),
        ("I25-I20", "runs backwards: write it as I20-I25"),
        ("I20-I29", "I29 is not an ICD-10 category"),
        ("J08-J19", "J08 and J19 are not ICD-10 categories"),
    ],
)
def test_a_group_that_is_not_in_icd10_is_explained(text: str, words: str) -> None:
    with pytest.raises(ValidationError) as raised:
        group_parse(text=text)
    assert words in " ".join(raised.value.messages)
