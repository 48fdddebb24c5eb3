"""The clinical leads' pages: write, edit (a new version), approve with four eyes, retire."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.pathways.models import Pathway, PathwayApproval, PathwayVersion
from tests.diagnosis.pathways.helpers import approved_pathway, in_days
from tests.web.helpers import field_errors, text_of

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _steps(*rows: tuple[str, str], extra: int = 2) -> dict[str, str]:
    """The editor's step rows as a browser posts them (blank rows after the written ones)."""
    data = {"items-TOTAL_FORMS": str(len(rows) + extra), "items-INITIAL_FORMS": "0"}
    for i, (kind, text) in enumerate([*rows, *[("", "")] * extra]):
        data[f"items-{i}-kind"] = kind
        data[f"items-{i}-text"] = text
    return data


def test_a_lead_writes_a_pathway_on_the_page_and_it_waits_for_a_second_lead(lead, lead2) -> None:
    client = _client(lead)
    response = client.post(
        reverse("diagnosis:pathway-new"),
        {
            "group": "I20-I25",
            "title": "Chest pain",
            "review_date": in_days(180).isoformat(),
            "save": "1",
            **_steps(("investigation", "12-lead ECG"), ("safety_net", "Return if worse")),
        },
    )
    pathway = Pathway.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("diagnosis:pathway", args=[pathway.pk])
    page = text_of(client.get(response["Location"]))
    assert "Another clinical lead approves it before doctors see it." in page
    assert "No version is approved yet: doctors are not offered this pathway." in page
    assert "You wrote this version: another clinical lead approves it (four eyes)." in page
    assert "Approve version 1" not in page

    other = _client(lead2)
    assert "Approve version 1" in text_of(other.get(response["Location"]))
    version = PathwayVersion.objects.get()
    assert other.post(reverse("diagnosis:pathway-approve", args=[version.pk])).status_code == 302
    page = text_of(other.get(response["Location"]))
    assert "Version 1</strong>, written by lead-test" in page
    assert "approved by lead2-test" in page


def test_the_author_approving_their_own_version_is_refused_on_the_page(lead) -> None:
    client = _client(lead)
    client.post(
        reverse("diagnosis:pathway-new"),
        {"group": "J45-J46", "title": "Asthma", "review_date": in_days(90).isoformat(),
         **_steps(("treatment", "Bronchodilator"))},
    )  # fmt: skip
    version = PathwayVersion.objects.get()
    response = client.post(reverse("diagnosis:pathway-approve", args=[version.pk]))
    assert response.status_code == 400
    assert "Four eyes: a clinical lead other than the author approves" in text_of(response)
    assert not PathwayApproval.objects.exists()


def test_the_editor_explains_each_problem_next_to_its_field(lead) -> None:
    response = _client(lead).post(
        reverse("diagnosis:pathway-new"),
        {"group": "chest", "title": "", "review_date": in_days(-1).isoformat(),
         **_steps(("", "A step without its kind"))},
    )  # fmt: skip
    assert response.status_code == 400
    errors = field_errors(response)
    assert errors["title"] == ["Give the pathway a title doctors will recognise."]
    assert "Choose the kind of this step." in text_of(response)
    assert not Pathway.objects.exists()

    response = _client(lead).post(
        reverse("diagnosis:pathway-new"),
        {"group": "chest", "title": "Chest", "review_date": in_days(-1).isoformat(),
         **_steps(("investigation", "ECG"))},
    )  # fmt: skip
    errors = field_errors(response)
    assert "is not an ICD-10 block or code" in errors["group"][0]
    assert errors["review_date"][0].startswith("The review date must be after today")


def test_more_rows_keeps_what_was_typed_and_saves_nothing(lead) -> None:
    response = _client(lead).post(
        reverse("diagnosis:pathway-new"),
        {"group": "I20-I25", "title": "Chest pain", "more": "1",
         **_steps(("investigation", "12-lead ECG"), extra=0)},
    )  # fmt: skip
    page = text_of(response)
    assert response.status_code == 200
    assert 'value="12-lead ECG"' in page and 'value="Chest pain"' in page
    assert page.count('data-testid="step-row"') == 1 + 3
    assert not Pathway.objects.exists()


def test_editing_on_the_page_writes_the_next_version_and_keeps_the_old_readable(
    lead, lead2
) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    client = _client(lead2)
    editor = text_of(client.get(reverse("diagnosis:pathway-edit", args=[v1.pathway_id])))
    assert "Saving writes version 2, starting from version 1" in editor
    assert 'value="12-lead ECG"' in editor
    # The date input shows the review date (it takes ISO dates whatever the site's language).
    assert f'name="review_date" value="{v1.review_date:%Y-%m-%d}"' in editor
    response = client.post(
        reverse("diagnosis:pathway-edit", args=[v1.pathway_id]),
        {"based_on": str(v1.pk), "title": "Chest pain v2",
         "review_date": in_days(300).isoformat(), "change_note": "Troponin timing",
         **_steps(("investigation", "ECG within 10 minutes"))},
    )  # fmt: skip
    assert response.status_code == 302
    v2 = PathwayVersion.objects.get(number=2)
    assert (v2.author, v2.change_note) == (lead2, "Troponin timing")
    old = text_of(client.get(reverse("diagnosis:pathway-version", args=[v1.pk])))
    assert "12-lead ECG" in old and "This is the current version, offered to doctors" in old
    new = text_of(client.get(reverse("diagnosis:pathway-version", args=[v2.pk])))
    assert "This version awaits another clinical lead's approval." in new

    # Saving again from version 1 (a second tab) saves nothing and says why.
    stale = client.post(
        reverse("diagnosis:pathway-edit", args=[v1.pathway_id]),
        {"based_on": str(v1.pk), "title": "From the old tab",
         "review_date": in_days(300).isoformat(), **_steps(("investigation", "ECG"))},
    )  # fmt: skip
    assert stale.status_code == 400
    assert "saved version 2 while you were editing version 1" in text_of(stale)
    assert PathwayVersion.objects.count() == 2


def test_a_doctor_reads_the_pathways_but_has_no_editor(doctor, lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    client = _client(doctor)
    listing = text_of(client.get(reverse("diagnosis:pathways")))
    assert "Chest pain" in listing and "Write a new pathway" not in listing
    detail = text_of(client.get(reverse("diagnosis:pathway", args=[v1.pathway_id])))
    assert "Edit (writes a new version)" not in detail and "Retire this pathway" not in detail
    assert client.get(reverse("diagnosis:pathway-new")).status_code == 403
    assert client.post(reverse("diagnosis:pathway-edit", args=[v1.pathway_id])).status_code == 403
    assert client.post(reverse("diagnosis:pathway-approve", args=[v1.pk])).status_code == 403


def test_an_overdue_review_is_shown_to_the_leads(lead, lead2, monkeypatch) -> None:
    v1 = approved_pathway(author=lead, approver=lead2, review_in_days=10)
    later = in_days(11)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: later)
    client = _client(lead)
    overdue = f"Review overdue since {v1.review_date:%Y-%m-%d}"
    assert overdue in text_of(client.get(reverse("diagnosis:pathways")))
    assert overdue in text_of(client.get(reverse("diagnosis:pathway", args=[v1.pathway_id])))


def test_retiring_on_the_page_needs_a_reason_and_moves_it_to_the_retired_list(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    client = _client(lead)
    url = reverse("diagnosis:pathway-retire", args=[v1.pathway_id])
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert field_errors(refused)["reason"] == ["Say why the pathway is retired."]
    assert client.post(url, {"reason": "Superseded by the ACS pathway"}).status_code == 302
    assert "Chest pain" not in text_of(client.get(reverse("diagnosis:pathways")))
    retired = text_of(client.get(reverse("diagnosis:pathways") + "?retired=1"))
    assert "Chest pain" in retired
    detail = text_of(client.get(reverse("diagnosis:pathway", args=[v1.pathway_id])))
    assert "“Superseded by the ACS pathway”" in detail and "12-lead ECG" in detail
