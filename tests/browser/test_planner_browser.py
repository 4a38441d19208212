"""The portfolio plan in a real browser: a scenario re-plans in place."""

import pytest

from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_applies_volume_times_three_for_claims_and_sees_the_allocation_change(
    browser_page, alice, carol, bob
):
    # Two Claims use-cases at 5,000 a day each, too small to self-host alone, and a
    # restricted Health one that must self-host: at three times the Claims volume
    # a shared pool with the Health deployment becomes the cheaper answer.
    common = {
        "status": UseCase.Status.APPROVED,
        "requests_per_day": 5_000,
        "capability_need": "advanced",
        "fine_tuning_data": True,
        "workloads": [("summarisation", 100)],
    }
    triage = UseCaseFactory(owner=alice, title="Claims triage", **common)
    UseCaseFactory(owner=alice, title="Claims letters", **common)
    UseCaseFactory(
        owner=carol,
        title="Clinical notes",
        status=UseCase.Status.LIVE,
        data_classification="restricted",
        capability_need="advanced",
        workloads=[("summarisation", 100)],
    )
    page = browser_page
    page.login("bob")

    page.goto("/portfolio/plan/")
    page.locator("#chart-plan-cost").scroll_into_view_if_needed()  # drawn in view
    page.wait_for_selector("#chart-plan-cost[data-drawn=yes]")
    row = f"#allocation-table tr[data-use-case='{triage.pk}']"
    assert page.get_attribute(row, "data-option") == "proprietary_api"
    page.evaluate("window.__marker = 'still here'")

    page.select_option("select[name=team]", "Claims")
    page.fill("input[name=factor]", "3")
    page.click("#apply-scenario")
    page.wait_for_selector(f"{row}[data-option=pooled]")

    assert page.evaluate("window.__marker") == "still here"  # an htmx swap
    assert "Volume x 3 for Claims" in page.inner_text("#plan-summary")
    assert "15,000" in page.inner_text(row)
    assert "Claims triage" in page.inner_text("#changes-table")
    assert "factor=3" in page.url
    page.locator("#chart-plan-cost").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-plan-cost[data-drawn=yes]")
