"""Deprecation watch: use-cases routed to an ending model, flagged and told once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.catalogue.models import CatalogModel
from apps.core.events import EventKind
from apps.lifecycle.models import DeprecationFlag
from apps.lifecycle.watch import watch_deprecations
from apps.reviews import services as reviews
from apps.usecases.models import AuditEvent

from .conftest import approved

TODAY = dt.date(2026, 12, 1)  # gpt-4o's listed deprecation is 14 Jan 2027


@pytest.fixture
def on_gpt4o(alice, bob, openai, catalogue):  # type: ignore[no-untyped-def]
    CatalogModel.objects.filter(key="gpt-4o").update(
        successor=CatalogModel.objects.get(key="gpt-4.1")
    )
    return approved(alice, bob, [(openai, "gpt-4o", 1)], title="Claims triage")


@pytest.mark.django_db
class TestWatch:
    def test_a_model_ending_within_the_horizon_flags_the_use_case_with_date_and_successor(
        self, on_gpt4o, django_capture_on_commit_callbacks, events
    ):
        with django_capture_on_commit_callbacks(execute=True):
            raised = watch_deprecations(today=TODAY)
        assert [(f.use_case, f.model.key) for f in raised] == [(on_gpt4o, "gpt-4o")]
        flag = raised[0]
        assert flag.end_date == dt.date(2027, 1, 14)
        assert flag.successor.key == "gpt-4.1"
        [event] = [e for e in events if e.kind == EventKind.MODEL_DEPRECATION]
        assert event.use_case_id == on_gpt4o.pk
        assert event.user_ids == (on_gpt4o.owner_id,)
        assert "board" in event.roles
        assert "GPT-4.1" in event.body or "gpt-4.1" in event.body.lower()
        assert (
            AuditEvent.objects.filter(
                use_case=on_gpt4o, kind="lifecycle.model_deprecation"
            ).count()
            == 1
        )

    def test_it_notifies_once_per_model_and_use_case(
        self, on_gpt4o, django_capture_on_commit_callbacks, events
    ):
        with django_capture_on_commit_callbacks(execute=True):
            watch_deprecations(today=TODAY)
            again = watch_deprecations(today=TODAY + dt.timedelta(days=1))
        assert again == []
        assert DeprecationFlag.objects.count() == 1
        assert len([e for e in events if e.kind == EventKind.MODEL_DEPRECATION]) == 1

    def test_a_model_ending_beyond_the_horizon_is_not_flagged(
        self, alice, bob, llama, catalogue
    ):
        # llama-3.1-8b is listed as deprecated on 30 Mar 2027: 119 days away.
        approved(alice, bob, [(llama, "llama-3.1-8b", 1)])
        assert watch_deprecations(today=TODAY) == []
        assert watch_deprecations(today=dt.date(2027, 1, 1)) != []

    def test_the_horizon_is_the_policys(self, alice, bob, llama, catalogue, settings):
        approved(alice, bob, [(llama, "llama-3.1-8b", 1)])
        settings.LIFECYCLE_HORIZON_DAYS = 120
        assert len(watch_deprecations(today=TODAY)) == 1

    def test_the_flag_resolves_when_the_routes_stop_naming_the_model(
        self, on_gpt4o, bob, openai
    ):
        watch_deprecations(today=TODAY)
        reviews.amend_routes(
            use_case=on_gpt4o,
            by=bob,
            routes=[
                {
                    "workload": "classification",
                    "targets": [{"endpoint": openai.pk, "model": "gpt-4.1"}],
                }
            ],
        )
        watch_deprecations(today=TODAY)
        flag = DeprecationFlag.objects.get(model__key="gpt-4o")
        assert flag.resolved_at is not None
        # gpt-4.1 ends on the same date in the seed catalogue: flagged on its own.
        assert DeprecationFlag.objects.open().get().model.key == "gpt-4.1"

    def test_the_lifecycle_page_lists_flags_by_date(
        self, client, on_gpt4o, alice, bob, llama
    ):
        other = approved(alice, bob, [(llama, "llama-3.1-8b", 1)], title="Later")
        watch_deprecations(today=dt.date(2027, 1, 1))
        client.force_login(bob)
        page = client.get(reverse("lifecycle:overview")).content.decode()
        assert page.index("Claims triage") < page.index(other.title)
        assert "14 Jan 2027" in page
