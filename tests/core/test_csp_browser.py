"""Under the Content-Security-Policy the pages still work in a real browser: charts
draw (plotly.js loaded on demand), htmx panels swap in, Swagger UI starts, and the
browser reports no violation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.catalogue.seed import load_seed_catalogue
from apps.portfolio.queries import utc_today
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory
from tests.portfolio.conftest import Usage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

PLOTLY_RULES = (
    "() => document.getElementById('plotly.js-style-global').sheet.cssRules.length"
)


@pytest.fixture
def page(chromium, live_server):  # type: ignore[no-untyped-def]
    """Like `browser_page`, but with the page's CSP enforced."""
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text) if "Content Security Policy" in m.text else None
        ),
    )
    page.csp_console = console

    def login(username: str, password: str = "pw") -> None:
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")

    page.login = login
    yield page
    context.close()


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("window.__csp") + page.csp_console


def test_pages_with_charts_and_panels_run_under_the_policy(page, alice, bob):
    load_seed_catalogue()
    usage = Usage()
    use_case = UseCaseFactory(owner=alice, requests_per_day=60_000, status="live")
    endpoint = usage.endpoint("openai")
    for days_ago in (1, 2):
        usage.add(
            endpoint=endpoint,
            use_case=use_case,
            day=utc_today() - timedelta(days=days_ago),
            requests=9,
            cost="4",
        )
    usage.rollup()
    drafted = UseCaseFactory(owner=alice, requests_per_day=60_000)
    submit_use_case(use_case=drafted, by=alice)

    page.login("bob")
    assert violations(page) == []
    page.goto("/portfolio/")
    page.locator("#chart-team").scroll_into_view_if_needed()  # drawn when seen
    page.wait_for_selector("#chart-team[data-drawn=yes] .main-svg")
    assert violations(page) == []
    # plotly.js's own rules took effect (added through the CSSOM).
    assert page.evaluate(PLOTLY_RULES) > 0

    page.goto(f"/endpoints/{endpoint.pk}/")
    page.locator("#usage-chart").scroll_into_view_if_needed()  # drawn when seen
    page.wait_for_selector("#usage-chart[data-drawn=yes] .main-svg")
    assert violations(page) == []

    # The assessment panel arrives by htmx; its chart loads plotly.js on demand.
    page.goto(f"/use-cases/{drafted.pk}/")
    page.locator("#assessment-panel .cost-chart-plot").scroll_into_view_if_needed()
    page.wait_for_selector("#assessment-panel .cost-chart-plot .main-svg")
    assert violations(page) == []

    page.goto("/api/docs/")
    page.wait_for_selector("#swagger-ui .opblock-tag")
    assert violations(page) == []


def test_the_board_pack_print_button_works_without_an_inline_handler(page, bob):
    page.login("bob")
    page.goto("/portfolio/board-pack/")
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") is True
    assert violations(page) == []
