"""Pages: who may use the playground, saved runs, attaching evidence, the rate limit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.playground import services
from apps.playground.guard import DataDeclaration
from apps.playground.models import PlaygroundRun
from apps.usecases.models import AuditEvent
from tests.factories import PlaygroundRunFactory, UseCaseFactory

from .conftest import form_data, stream, target

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["requester", "board", "platform"])
def test_playground_users_open_the_page(client, cast, role, local_endpoint):
    client.force_login(cast[role])

    page = client.get(reverse("playground:index"))

    assert page.status_code == 200
    assert local_endpoint.name in page.content.decode()
    assert "js/playground.js" in page.content.decode()


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_cannot_open_the_playground(client, cast, role):
    client.force_login(cast[role])

    assert client.get(reverse("playground:index")).status_code == 403
    assert client.get(reverse("playground:targets")).status_code == 403


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_cannot_stream(cast, role, local_endpoint, local_server):
    result = stream(cast[role], form_data(target(local_endpoint)))

    assert result.status == 403
    assert local_server.requests == []


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(reverse("playground:index"))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_page_never_shows_an_api_key(client, alice, external_endpoint):
    client.force_login(alice)

    page = client.get(reverse("playground:index"))

    assert "sk-test-playground" not in page.content.decode()
    assert external_endpoint.api_key_encrypted not in page.content.decode()


def test_it_refuses_unknown_or_too_many_targets(alice, local_endpoint, local_server):
    unknown = stream(alice, form_data("999:nope"))
    wrong_model = stream(alice, form_data(f"{local_endpoint.pk}:other-model"))
    too_many = stream(alice, form_data(*[target(local_endpoint)] * 5))

    assert unknown.status == 400
    assert wrong_model.status == 400 and "does not serve" in wrong_model.body["detail"]
    assert too_many.status == 400
    assert local_server.requests == []


def test_it_rate_limits_each_user(settings, alice, bob, local_endpoint):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "playground": "2/minute",
        },
    }
    data = form_data(target(local_endpoint))

    statuses = [stream(alice, data).status for _ in range(3)]
    other_user = stream(bob, data)

    assert statuses == [200, 200, 429]
    assert other_user.status == 200


def test_runs_are_listed_for_their_owner_and_the_board(client, alice, carol, bob, erin):
    mine = PlaygroundRunFactory(owner=alice)
    theirs = PlaygroundRunFactory(owner=carol)

    client.force_login(alice)
    alice_sees = client.get(reverse("playground:run_list")).content.decode()
    client.force_login(bob)
    bob_sees = client.get(reverse("playground:run_list")).content.decode()
    client.force_login(erin)
    erin_sees = client.get(reverse("playground:run_list")).content.decode()

    assert f"#{mine.pk}" in alice_sees and f"#{theirs.pk}" not in alice_sees
    assert f"#{mine.pk}" in bob_sees and f"#{theirs.pk}" in bob_sees
    assert f"#{theirs.pk}" in erin_sees


def test_another_users_run_is_not_found(client, alice, carol):
    run = PlaygroundRunFactory(owner=carol)
    client.force_login(alice)

    assert (
        client.get(reverse("playground:run_detail", args=[run.pk])).status_code == 404
    )


def test_a_requester_reads_runs_attached_to_their_teams_use_cases(client, alice, bob):
    use_case = UseCaseFactory(owner=alice)
    run = PlaygroundRunFactory(owner=bob, use_case=use_case)
    client.force_login(alice)

    assert (
        client.get(reverse("playground:run_detail", args=[run.pk])).status_code == 200
    )


def test_the_run_list_runs_a_fixed_number_of_queries(
    client, alice, bob, django_assert_max_num_queries
):
    client.force_login(bob)
    for _ in range(5):
        PlaygroundRunFactory(owner=alice, outputs=2)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("playground:run_list"))
    for _ in range(45):
        PlaygroundRunFactory(owner=alice, outputs=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("playground:run_list"))
    assert response.status_code == 200


def test_the_owner_attaches_a_run_to_a_use_case_as_evidence(client, alice, bob):
    use_case = UseCaseFactory(owner=alice)
    run = PlaygroundRunFactory(owner=alice)
    client.force_login(alice)

    response = client.post(
        reverse("playground:run_attach", args=[run.pk]), {"use_case": use_case.pk}
    )

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.use_case == use_case and run.attached_by == alice
    assert list(use_case.playground_runs.all()) == [run]
    assert AuditEvent.objects.filter(
        kind="playground.attached", use_case=use_case
    ).exists()
    # The board sees it on the use-case's panel.
    client.force_login(bob)
    panel = client.get(
        reverse("playground:use_case_panel", args=[use_case.pk]), HTTP_HX_REQUEST="true"
    )
    assert run.get_absolute_url() in panel.content.decode()
    assert "<html" not in panel.content.decode()


def test_a_run_cannot_be_attached_to_a_hidden_use_case(client, alice, carol):
    hidden = UseCaseFactory(owner=carol, data_classification="restricted")
    run = PlaygroundRunFactory(owner=alice)
    client.force_login(alice)

    client.post(
        reverse("playground:run_attach", args=[run.pk]), {"use_case": hidden.pk}
    )

    run.refresh_from_db()
    assert run.use_case is None


def test_only_the_owner_attaches_a_run(client, alice, bob):
    use_case = UseCaseFactory(owner=alice)
    run = PlaygroundRunFactory(owner=alice)
    client.force_login(bob)

    response = client.post(
        reverse("playground:run_attach", args=[run.pk]), {"use_case": use_case.pk}
    )

    assert response.status_code == 403
    run.refresh_from_db()
    assert run.use_case is None


def test_the_use_case_panel_is_not_found_for_a_hidden_use_case(client, alice, carol):
    hidden = UseCaseFactory(owner=carol, data_classification="restricted")
    client.force_login(alice)

    assert (
        client.get(reverse("playground:use_case_panel", args=[hidden.pk])).status_code
        == 404
    )


def test_the_non_streaming_service_saves_every_column(
    alice, local_endpoint, big_endpoint
):
    run = services.execute_run(
        user=alice,
        params=services.RunParams(
            prompt="Hello",
            targets=[
                (local_endpoint.pk, local_endpoint.served_models[0]),
                (big_endpoint.pk, big_endpoint.served_models[0]),
            ],
            declaration=DataDeclaration(classification="internal"),
        ),
    )

    assert isinstance(run, PlaygroundRun)
    assert [o.status for o in run.outputs.all()] == ["done", "done"]
