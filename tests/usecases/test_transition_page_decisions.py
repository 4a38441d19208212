"""The page's generic transition form never approves, rejects or sends back.

Issue 13, finding 2: `/use-cases/{id}/transition/` with `rejected` redirected as
a success and rejected the use-case with no Decision record.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.reviews.models import Decision
from apps.usecases import lifecycle, services
from apps.usecases.models import Transition, UseCase
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db
S = UseCase.Status


@pytest.mark.parametrize("outcome", ["approved", "rejected", "changes_requested"])
def test_the_form_refuses_a_decision_outcome_with_a_message(
    client, alice, bob, outcome
):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    client.force_login(bob)

    response = client.post(
        reverse("usecases:transition", args=[use_case.pk]),
        {"to_status": outcome},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and "is a board decision" in shown[0]
    use_case.refresh_from_db()
    assert use_case.status == S.IN_REVIEW
    assert not Transition.objects.exists() and not Decision.objects.exists()


def test_the_detail_page_offers_the_board_no_decision_buttons(client, alice, bob):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    client.force_login(bob)

    page = client.get(use_case.get_absolute_url()).content.decode()

    for outcome in lifecycle.DECISION_OUTCOMES:
        assert f'name="to_status" value="{outcome}"' not in page


def test_the_service_refuses_every_decision_outcome(bob):
    for outcome in lifecycle.DECISION_OUTCOMES:
        use_case = UseCaseFactory(status=S.IN_REVIEW)
        with pytest.raises(lifecycle.DecisionRequired):
            services.transition_use_case(use_case=use_case, to_status=outcome, by=bob)
        use_case.refresh_from_db()
        assert use_case.status == S.IN_REVIEW
    assert not Transition.objects.exists()


def test_the_decision_path_takes_only_decision_outcomes(dave):
    use_case = UseCaseFactory(status=S.APPROVED)
    with pytest.raises(lifecycle.TransitionError):
        services.record_decision_outcome(use_case=use_case, outcome=S.LIVE, by=dave)
    use_case.refresh_from_db()
    assert use_case.status == S.APPROVED
