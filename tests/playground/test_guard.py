"""The data guard, enforced on the server and recorded in the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.framework.models import Policy
from apps.playground.guard import DataDeclaration, blocked_sets
from apps.playground.models import PlaygroundRun
from apps.usecases.models import AuditEvent
from tests.factories import UseCaseFactory

from .conftest import form_data, stream, target

pytestmark = pytest.mark.django_db


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind="playground.refused"))


def test_it_refuses_external_endpoint_for_restricted_data(
    alice, local_endpoint, external_endpoint, external_server, local_server
):
    result = stream(
        alice,
        form_data(
            target(local_endpoint),
            target(external_endpoint),
            data_classification="restricted",
        ),
    )

    assert result.status == 403
    assert result.body["refused"] == ["OpenAI"]
    assert "OpenAI" in result.body["detail"]
    assert "restricted data may not leave" in result.body["detail"]
    # Nothing was sent anywhere, not even to the allowed in-house endpoint.
    assert external_server.requests == [] and local_server.requests == []
    assert not PlaygroundRun.objects.exists()
    (event,) = refusals()
    assert event.actor == alice
    assert event.use_case is None
    assert event.data["endpoints"] == ["OpenAI"]
    assert event.data["via"] == "page"
    assert event.data["data_classification"] == "restricted"


@pytest.mark.parametrize(
    "declared",
    [
        {"data_classification": "internal", "special_categories": ["health"]},
        {"data_classification": "public", "special_categories": ["indigenous"]},
        {"data_classification": "confidential", "special_categories": ["government"]},
        {"data_classification": "public", "must_stay_in_infrastructure": "on"},
    ],
)
def test_it_refuses_external_endpoint_for_data_that_may_not_leave(
    alice, external_endpoint, external_server, declared
):
    result = stream(alice, form_data(target(external_endpoint), **declared))

    assert result.status == 403
    assert external_server.requests == []
    assert len(refusals()) == 1


@pytest.mark.parametrize(
    "declared",
    [
        {"data_classification": "public"},
        {"data_classification": "internal", "special_categories": ["personal"]},
        {"data_classification": "confidential", "special_categories": ["financial"]},
    ],
)
def test_it_allows_external_endpoint_for_data_that_may_leave(
    alice, external_endpoint, external_server, declared
):
    result = stream(alice, form_data(target(external_endpoint), **declared))

    assert result.status == 200
    assert result.column(0)["status"] == "done"
    assert refusals() == []


def test_it_allows_in_house_endpoints_for_restricted_data(alice, local_endpoint):
    result = stream(
        alice,
        form_data(
            target(local_endpoint),
            data_classification="restricted",
            special_categories=["health"],
            must_stay_in_infrastructure="on",
        ),
    )

    assert result.status == 200
    assert result.column(0)["status"] == "done"
    run = PlaygroundRun.objects.get()
    assert run.data_classification == "restricted"
    assert run.special_categories == ["health"]
    assert run.may_leave_infrastructure is False


def test_the_use_cases_profile_decides_over_the_declaration(
    carol, external_endpoint, external_server
):
    use_case = UseCaseFactory(
        owner=carol, data_classification="restricted", special_categories=["health"]
    )

    result = stream(
        carol,
        form_data(
            target(external_endpoint),
            data_classification="public",
            use_case=use_case.pk,
        ),
    )

    assert result.status == 403
    assert "of use-case" in result.body["detail"]
    assert external_server.requests == []
    (event,) = refusals()
    assert event.use_case == use_case
    assert event.actor == carol


def test_a_use_case_whose_data_may_leave_allows_external_endpoints(
    alice, external_endpoint
):
    use_case = UseCaseFactory(owner=alice, data_classification="internal")

    result = stream(
        alice,
        form_data(
            target(external_endpoint), data_classification="", use_case=use_case.pk
        ),
    )

    assert result.status == 200
    assert PlaygroundRun.objects.get().profile_use_case == use_case


def test_it_requires_the_data_to_be_stated(alice, local_endpoint, local_server):
    result = stream(alice, form_data(target(local_endpoint), data_classification=""))

    assert result.status == 400
    assert "State the data classification" in str(result.body["errors"])
    assert local_server.requests == []


def test_a_use_case_the_user_cannot_see_is_not_a_profile(alice, carol, local_endpoint):
    hidden = UseCaseFactory(owner=carol, data_classification="restricted")

    result = stream(alice, form_data(target(local_endpoint), use_case=hidden.pk))

    assert result.status == 400
    assert "use_case" in result.body["errors"]


def test_the_guard_follows_the_current_policy(
    alice, external_endpoint, external_server
):
    current = Policy.objects.current()
    categories = [*current.data["categories_that_may_not_leave"], "financial"]
    Policy.objects.create(
        number=current.number + 1,
        data={**current.data, "categories_that_may_not_leave": categories},
    )

    result = stream(
        alice,
        form_data(
            target(external_endpoint),
            data_classification="internal",
            special_categories=["financial"],
        ),
    )

    assert result.status == 403
    assert external_server.requests == []


def test_without_a_stored_policy_the_design_defaults_apply(db):
    categories, classifications = blocked_sets()

    assert categories == {"health", "government", "indigenous"}
    assert classifications == {"restricted"}


def test_unstated_data_may_not_leave():
    assert DataDeclaration().may_leave() is False


def test_the_page_disables_external_endpoints_for_restricted_data(
    client, alice, local_endpoint, external_endpoint
):
    client.force_login(alice)
    url = reverse("playground:targets")

    restricted = client.get(
        url, {"data_classification": "restricted"}, HTTP_HX_REQUEST="true"
    )
    public = client.get(url, {"data_classification": "public"}, HTTP_HX_REQUEST="true")

    external_option = f'value="{target(external_endpoint)}" disabled'
    local_option = f'value="{target(local_endpoint)}" disabled'
    assert external_option in restricted.content.decode()
    assert local_option not in restricted.content.decode()
    assert "restricted data may not leave" in restricted.content.decode()
    assert external_option not in public.content.decode()
    assert 'id="guard-note"' not in public.content.decode()


def test_the_page_disables_external_endpoints_until_the_data_is_stated(
    client, alice, external_endpoint
):
    client.force_login(alice)

    page = client.get(reverse("playground:index"))

    assert f'value="{target(external_endpoint)}" disabled' in page.content.decode()
    assert "state the data classification" in page.content.decode()
