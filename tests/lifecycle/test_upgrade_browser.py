"""The board opens a proposed upgrade, runs it, sees the result, adopts it."""

from __future__ import annotations

import pytest

from apps.gateway.routes import current_routes
from apps.lifecycle.models import Comparison

from .conftest import approved
from .test_comparisons import CANDIDATE, INCUMBENT, endpoint, proposal, with_test_set

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


def test_the_board_runs_a_proposed_upgrade_sees_both_sides_and_adopts_it(
    worker, browser_page, alice, bob, incumbent_server, passing_server
):
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    better = endpoint(passing_server, "Llama 70B", CANDIDATE)
    use_case = approved(alice, bob, [(current, INCUMBENT, 1)], title="Claims triage")
    with_test_set(use_case)
    comparison = proposal(use_case, current, better)
    page = browser_page

    page.login("bob")
    page.click("text=Model lifecycle")
    page.click('#comparisons tbody a:text-is("Proposed")')
    page.wait_for_url("**" + comparison.get_absolute_url())
    page.select_option("select[name=candidate]", f"{better.pk}:{CANDIDATE}")
    page.click("#start-comparison")
    # The page polls while the worker runs both sides, then shows them.
    page.wait_for_selector("#comparison-table", timeout=30_000)
    table = page.inner_text("#comparison-table")
    assert "Incumbent" in table and "Candidate" in table
    assert "75% (3/4)" in table  # both pass contains, contains and regex
    assert "Latency p50 / p95" in table
    assert "Passes the gate" in page.inner_text("#comparison-gate")
    assert page.locator("#comparison-failures >> text=json").count() == 2

    page.reload()
    page.fill("input[name=comment]", "Same results, newer model.")
    page.click("#adopt-comparison")
    page.wait_for_selector("text=Adopted as an amendment of the routes")
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.ADOPTED
    use_case.refresh_from_db()
    assert current_routes(use_case)[0]["targets"] == [
        {"endpoint": better.pk, "model": CANDIDATE, "weight": 1}
    ]
