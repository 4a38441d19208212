"""`POST /api/v1/use-cases/{id}/transition/` never approves, rejects or sends back.

Issue 13, finding 2: the generic transition approved a use-case with no Decision
record, skipping the pattern, overrule reason, conditions and the gateway's routes.
"""

from __future__ import annotations

import pytest

from apps.reviews.models import Decision
from apps.usecases.models import Transition, UseCase
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db
S = UseCase.Status


def transition(api_client, use_case, to_status):  # type: ignore[no-untyped-def]
    return api_client.post(
        f"/api/v1/use-cases/{use_case.pk}/transition/",
        {"to_status": to_status},
        format="json",
    )


@pytest.mark.parametrize("outcome", ["approved", "rejected", "changes_requested"])
def test_the_board_cannot_reach_a_decision_outcome_through_the_transition(
    api_client, alice, bob, outcome
):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    api_client.force_authenticate(bob)

    response = transition(api_client, use_case, outcome)

    assert response.status_code == 409
    assert f"/api/v1/use-cases/{use_case.pk}/decision/" in response.json()["detail"]
    use_case.refresh_from_db()
    assert use_case.status == S.IN_REVIEW
    assert not Transition.objects.exists() and not Decision.objects.exists()


def test_a_superuser_cannot_approve_without_a_decision_either(api_client, alice, root):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    api_client.force_authenticate(root)

    response = transition(api_client, use_case, "approved")

    assert response.status_code == 409
    use_case.refresh_from_db()
    assert use_case.status == S.IN_REVIEW and not Transition.objects.exists()


def test_a_requester_approving_is_still_refused_for_the_role(api_client, alice):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    api_client.force_authenticate(alice)

    assert transition(api_client, use_case, "approved").status_code == 403
    use_case.refresh_from_db()
    assert use_case.status == S.IN_REVIEW


def test_the_path_it_names_approves_with_a_decision(api_client, alice, bob):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    api_client.force_authenticate(bob)
    detail = transition(api_client, use_case, "approved").json()["detail"]
    decision_url = f"/api/v1/use-cases/{use_case.pk}/decision/"
    assert decision_url in detail

    response = api_client.post(
        decision_url,
        {"outcome": "approved", "pattern": "proprietary_api"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    use_case.refresh_from_db()
    decision = Decision.objects.get()
    assert use_case.status == S.APPROVED
    assert decision.transition.to_status == S.APPROVED


def test_other_moves_still_go_through_the_transition(api_client, alice, bob, dave):
    use_case = UseCaseFactory(owner=alice, status=S.SUBMITTED)
    api_client.force_authenticate(bob)
    assert transition(api_client, use_case, "in_review").status_code == 200

    approved = UseCaseFactory(owner=alice, status=S.APPROVED)
    api_client.force_authenticate(dave)
    assert transition(api_client, approved, "live").json()["status"] == "live"
