"""Decision conformance: live traffic against the routes in force."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.events import EventKind
from apps.endpoints import services as endpoints
from apps.endpoints.models import EndpointMapping, UsageSample
from apps.lifecycle.conformance import check_conformance
from apps.lifecycle.models import ConformanceFlag
from apps.usecases.models import AuditEvent
from tests.factories import ServingEndpointFactory
from tests.servers import FakeServer

from .conftest import approved

WINDOW = timedelta(minutes=15)  # the default policy's conformance window


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def vllm(server):  # type: ignore[no-untyped-def]
    """An in-house vLLM endpoint on a loopback server serving two models."""
    server.set_vllm(model="llama-3.1-8b")
    server.set_vllm(model="llama-3.1-70b")
    return ServingEndpointFactory(
        name="vLLM box",
        base_url=server.url,
        served_models=["llama-3.1-8b", "llama-3.1-70b"],
    )


def traffic(server, model, requests):  # type: ignore[no-untyped-def]
    """The loopback server's counters for ``model`` rise by ``requests``."""
    current = server._vllm[(model, "0")]
    server.set_vllm(
        model=model,
        requests=current.requests + requests,
        prompt_tokens=current.prompt_tokens + 100 * requests,
        generation_tokens=current.generation_tokens + 10 * requests,
    )


def collect(endpoint):  # type: ignore[no-untyped-def]
    """One collection cycle of the endpoint, as the beat task runs it."""
    assert endpoints.collect_endpoint(endpoint_id=endpoint.pk).ok


@pytest.mark.django_db(transaction=True)
class TestThroughCollection:
    def test_traffic_on_an_unapproved_model_is_flagged_within_one_cycle_and_cleared_when_it_stops(
        self, alice, bob, vllm, server, events
    ):
        use_case = approved(alice, bob, [(vllm, "llama-3.1-8b", 1)])
        EndpointMapping.objects.create(endpoint=vllm, use_case=use_case)
        collect(vllm)  # the counters' baseline
        traffic(server, "llama-3.1-70b", 30)
        collect(vllm)
        report = check_conformance()
        [flag] = report.flagged
        assert flag.use_case == use_case
        assert flag.kind == ConformanceFlag.Kind.UNAPPROVED_ROUTE
        assert flag.model_seen == "llama-3.1-70b"
        assert flag.requests == 30
        assert [e.kind for e in events] == [EventKind.CONFORMANCE_FLAGGED]
        assert AuditEvent.objects.filter(
            use_case=use_case, kind="lifecycle.conformance_flagged"
        ).exists()
        # The same traffic seen again is the same flag, not a new notice.
        assert check_conformance().flagged == []
        # The stray traffic stops; approved traffic goes on: the next cycle clears.
        traffic(server, "llama-3.1-8b", 5)
        collect(vllm)
        later = timezone.now()
        report = check_conformance(now=later)
        assert [f.pk for f in report.cleared] == [flag.pk]
        flag.refresh_from_db()
        assert flag.cleared_at == later
        assert AuditEvent.objects.filter(
            use_case=use_case, kind="lifecycle.conformance_cleared"
        ).exists()
        assert len(events) == 1


@pytest.mark.django_db
class TestRules:
    def sample(self, endpoint, use_case, model, requests, at=None, series=None):  # type: ignore[no-untyped-def]
        at = at or timezone.now()
        return UsageSample.objects.create(
            endpoint=endpoint,
            series=series or f"test|model={model}|at={at.isoformat()}",
            bucket_start=at - timedelta(minutes=1),
            bucket_end=at,
            model=model,
            use_case=use_case,
            requests=requests,
        )

    def test_any_external_traffic_for_must_stay_data_is_flagged_and_cleared_when_it_stops(
        self, alice, bob, llama, openai
    ):
        use_case = approved(
            alice, bob, [(llama, "llama-3.1-8b", 1)], must_stay_in_infrastructure=True
        )
        now = timezone.now()
        self.sample(openai, use_case, "gpt-4o", 3, at=now)
        report = check_conformance(now=now)
        kinds = sorted(f.kind for f in report.flagged)
        assert kinds == ["external_must_stay", "unapproved_route"]
        assert all(f.use_case == use_case for f in report.flagged)
        report = check_conformance(now=now + WINDOW + timedelta(minutes=1))
        assert len(report.cleared) == 2
        assert not ConformanceFlag.objects.open().exists()

    def test_external_traffic_of_data_that_may_leave_on_an_approved_route_conforms(
        self, alice, bob, openai
    ):
        use_case = approved(alice, bob, [(openai, "gpt-4o", 1)])
        self.sample(openai, use_case, "gpt-4o", 50)
        assert check_conformance().flagged == []

    def test_a_split_off_the_approved_weights_beyond_the_tolerance_is_flagged(
        self, alice, bob, llama
    ):
        use_case = approved(
            alice, bob, [(llama, "llama-3.1-8b", 1), (llama, "llama-3.1-70b", 1)]
        )
        self.sample(llama, use_case, "llama-3.1-8b", 90)
        self.sample(llama, use_case, "llama-3.1-70b", 10)
        flagged = check_conformance().flagged
        assert {f.kind for f in flagged} == {"split"}
        assert {f.model_seen for f in flagged} == {"llama-3.1-8b", "llama-3.1-70b"}

    def test_a_split_within_the_tolerance_conforms(self, alice, bob, llama):
        use_case = approved(
            alice, bob, [(llama, "llama-3.1-8b", 1), (llama, "llama-3.1-70b", 1)]
        )
        self.sample(llama, use_case, "llama-3.1-8b", 55)
        self.sample(llama, use_case, "llama-3.1-70b", 45)
        assert check_conformance().flagged == []

    def test_the_portals_own_test_calls_are_not_live_traffic(self, alice, bob, llama):
        use_case = approved(alice, bob, [(llama, "llama-3.1-8b", 1)])
        self.sample(llama, use_case, "llama-3.1-70b", 1, series="portal|test-result=1")
        assert check_conformance().flagged == []

    def test_flags_show_on_the_use_case_panel_and_the_lifecycle_page(
        self, client, alice, bob, carol, llama
    ):
        use_case = approved(
            alice, bob, [(llama, "llama-3.1-8b", 1)], data_classification="confidential"
        )
        self.sample(llama, use_case, "llama-3.1-70b", 7)
        check_conformance()
        client.force_login(alice)
        panel = client.get(reverse("lifecycle:use_case_panel", args=[use_case.pk]))
        assert "which no approved route names" in panel.content.decode()
        client.force_login(bob)
        page = client.get(reverse("lifecycle:overview"))
        assert "which no approved route names" in page.content.decode()
        client.force_login(carol)  # another team's confidential use-case: not hers
        page = client.get(reverse("lifecycle:overview"))
        assert "which no approved route names" not in page.content.decode()
