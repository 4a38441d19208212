"""Lifecycle fields of catalogue models: status by date, edits, the price-file import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.catalogue.models import CatalogModel, PriceSnapshot
from apps.catalogue.services import import_litellm_prices

from .test_catalogue_pages import model_form

TODAY = dt.date(2026, 12, 1)


def successor_file() -> dict:
    """A LiteLLM file listing gpt-4o's deprecation and a new gpt-4o release."""
    return {
        "gpt-4o": {
            "input_cost_per_token": 2.5e-06,
            "output_cost_per_token": 1e-05,
            "max_input_tokens": 128000,
            "deprecation_date": "2027-01-14",
            "mode": "chat",
        },
        "gpt-4o-2026-11-20": {
            "input_cost_per_token": 2e-06,
            "output_cost_per_token": 8e-06,
            "max_input_tokens": 256000,
            "mode": "chat",
        },
        "gpt-4o-embedding-x": {
            "input_cost_per_token": 1e-08,
            "max_input_tokens": 8000,
            "mode": "embedding",
        },
        "some-other-vendor-model": {
            "input_cost_per_token": 1e-06,
            "output_cost_per_token": 1e-06,
            "max_input_tokens": 32000,
            "mode": "chat",
        },
    }


@pytest.mark.django_db
class TestStatus:
    def test_a_passed_deprecation_date_makes_a_ga_model_deprecated(self):
        model = CatalogModel(status="ga", deprecation_date=TODAY)
        assert model.status_on(TODAY - dt.timedelta(days=1)) == "ga"
        assert model.status_on(TODAY) == "deprecated"

    def test_a_passed_retirement_date_outranks_deprecation(self):
        model = CatalogModel(
            status="preview", deprecation_date=TODAY, retirement_date=TODAY
        )
        assert model.status_on(TODAY) == "retired"
        assert model.end_date() == TODAY


@pytest.mark.django_db
class TestImport:
    def test_import_adds_a_new_family_member_as_successor_of_the_deprecated_one(
        self, catalogue
    ):
        CatalogModel.objects.filter(key="gpt-4o").update(family="gpt-4o")
        report = import_litellm_prices(
            prices=successor_file(),
            source="test file",
            date=TODAY,
            add_family_members=True,
        )
        assert report.added == ["gpt-4o-2026-11-20"]
        new = CatalogModel.objects.get(key="gpt-4o-2026-11-20")
        assert new.family == "gpt-4o"
        assert new.capability_tier == "advanced"  # copied from the family
        assert new.input_usd_per_mtok == Decimal("2.000000")
        assert new.context_window == 256000
        assert new.release_date == TODAY
        old = CatalogModel.objects.get(key="gpt-4o")
        assert old.deprecation_date == dt.date(2027, 1, 14)
        assert old.successor == new
        assert not CatalogModel.objects.filter(
            key__in=["gpt-4o-embedding-x", "some-other-vendor-model"]
        ).exists()

    def test_import_without_the_option_or_on_a_dry_run_adds_nothing(self, catalogue):
        CatalogModel.objects.filter(key="gpt-4o").update(family="gpt-4o")
        count = CatalogModel.objects.count()
        import_litellm_prices(prices=successor_file(), source="f", date=TODAY)
        report = import_litellm_prices(
            prices=successor_file(),
            source="f",
            date=TODAY,
            add_family_members=True,
            dry_run=True,
        )
        assert report.added == ["gpt-4o-2026-11-20"]
        assert CatalogModel.objects.count() == count
        assert CatalogModel.objects.get(key="gpt-4o").successor is None


@pytest.mark.django_db
class TestEditing:
    def test_platform_sets_lifecycle_fields_and_the_page_shows_them(
        self, client, catalogue, dave
    ):
        model = CatalogModel.objects.get(key="gpt-4o")
        successor = CatalogModel.objects.get(key="gpt-4.1")
        client.force_login(dave)
        response = client.post(
            reverse("catalogue:model_edit", args=[model.pk]),
            model_form(
                model,
                status="deprecated",
                release_date="2024-05-13",
                retirement_date="2027-03-01",
                family="gpt-4o",
                successor=successor.pk,
            ),
        )
        assert response.status_code == 302
        model.refresh_from_db()
        assert model.status == "deprecated"
        assert model.retirement_date == dt.date(2027, 3, 1)
        assert model.successor == successor
        page = client.get(reverse("catalogue:model_detail", args=[model.pk]))
        assert "Deprecated" in page.content.decode()
        assert "GPT-4.1" in page.content.decode() or successor.name in (
            page.content.decode()
        )

    def test_retirement_before_deprecation_is_refused_and_nothing_changes(
        self, client, catalogue, dave
    ):
        model = CatalogModel.objects.get(key="gpt-4o")
        snapshots = PriceSnapshot.objects.count()
        client.force_login(dave)
        response = client.post(
            reverse("catalogue:model_edit", args=[model.pk]),
            model_form(model, retirement_date="2026-01-01"),
        )
        assert response.status_code == 200
        assert "retires on or after its deprecation" in response.content.decode()
        model.refresh_from_db()
        assert model.retirement_date is None
        assert PriceSnapshot.objects.count() == snapshots

    def test_requester_cannot_edit_lifecycle_fields(self, client, catalogue, alice):
        model = CatalogModel.objects.get(key="gpt-4o")
        client.force_login(alice)
        response = client.post(
            reverse("catalogue:model_edit", args=[model.pk]),
            model_form(model, status="retired"),
        )
        assert response.status_code == 403
        model.refresh_from_db()
        assert model.status == "ga"


@pytest.mark.django_db
def test_the_api_lists_lifecycle_fields(client, catalogue, paul):
    CatalogModel.objects.filter(key="gpt-4o").update(
        family="gpt-4o", successor=CatalogModel.objects.get(key="gpt-4.1")
    )
    client.force_login(paul)
    response = client.get("/api/v1/catalogue/models/?q=gpt-4o")
    row = next(r for r in response.json()["results"] if r["key"] == "gpt-4o")
    assert row["status"] == "ga"
    assert row["family"] == "gpt-4o"
    assert row["successor"] == "gpt-4.1"
    assert row["deprecation_date"] == "2027-01-14"
    assert {"release_date", "retirement_date"} <= set(row)
