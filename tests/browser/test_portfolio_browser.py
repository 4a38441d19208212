"""The portfolio overview in a real browser: charts draw, a filter redraws them."""

from datetime import timedelta

import pytest

from apps.portfolio.queries import utc_today
from tests.factories import UseCaseFactory
from tests.portfolio.conftest import Usage, assess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEAM_TRACES = (
    "() => Array.from(document.querySelector('#chart-team').data || [])"
    ".map(t => t.name).sort()"
)


def test_a_filter_redraws_the_charts_without_reloading(browser_page, alice, carol, bob):
    usage = Usage()
    today = utc_today()
    claims_uc = UseCaseFactory(title="Email router", owner=alice, status="live")
    health_uc = UseCaseFactory(title="Discharge notes", owner=carol, status="live")
    assess(claims_uc, "hybrid", "50.00")
    endpoint = usage.endpoint("openai")
    for days_ago in (1, 2, 3):
        day = today - timedelta(days=days_ago)
        usage.add(endpoint=endpoint, use_case=claims_uc, day=day, requests=9, cost="4")
        usage.add(endpoint=endpoint, use_case=health_uc, day=day, requests=3, cost="2")
    usage.rollup()
    page = browser_page
    page.login("bob")

    page.get_by_role("link", name="Portfolio", exact=True).click()
    # Charts are drawn as they come into view.
    page.locator("#chart-vendor").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-vendor[data-drawn=yes] .main-svg")
    page.locator("#chart-team").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-team[data-drawn=yes]")
    assert page.evaluate(TEAM_TRACES) == ["Claims", "Health"]
    page.evaluate("window.__marker = 'still here'")

    page.select_option("select[name=team]", label="Claims")
    page.wait_for_function(
        "() => { const el = document.querySelector('#chart-team');"
        " return el && el.dataset.drawn === 'yes' && el.data.length === 1; }"
    )
    assert page.evaluate(TEAM_TRACES) == ["Claims"]
    assert page.evaluate("window.__marker") == "still here"  # an htmx swap
    assert f"team={claims_uc.team_id}" in page.url
    assert "Discharge notes" not in page.inner_text("#results")

    # Changing the period redraws them again; the filter is kept.
    page.select_option("select[name=period]", "30d")
    page.wait_for_selector("#results[data-period='30d'] #chart-team")
    page.locator("#chart-team").scroll_into_view_if_needed()
    page.wait_for_selector("#results[data-period='30d'] #chart-team[data-drawn=yes]")
    assert page.evaluate(TEAM_TRACES) == ["Claims"]
    assert page.inner_text("#kpi-period-spend") == "$12.00"
