"""In a real browser: the live recommendation on the intake form, and the chart."""

from __future__ import annotations

import pytest

from apps.catalogue.seed import load_seed_catalogue
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_recommendation_follows_the_intake_form_as_it_is_filled_in(
    browser_page, alice
):
    load_seed_catalogue()
    page = browser_page
    page.login("alice")
    page.goto("/use-cases/new/")
    aside = page.locator("#live-recommendation")
    aside.locator("text=to see a recommendation").wait_for()
    assert "requests a day" in aside.inner_text()

    page.check("input[name=data_classification][value=internal]")
    page.fill("#id_requests_per_day", "60000")
    page.fill("#id_avg_input_tokens", "1500")
    page.fill("#id_avg_output_tokens", "500")
    page.check("input[name=mlops_readiness][value=established]")
    page.check("input[name=horizon][value=core]")
    page.select_option("select[name=workloads-0-task_type]", "classification")
    page.locator("input[name=workloads-0-share]").blur()
    aside.locator(".badge.outcome").wait_for()
    before = aside.locator(".badge.outcome").inner_text()

    # Data that must stay in-house settles it, live.
    page.check("#id_must_stay_in_infrastructure")
    page.wait_for_function(
        "document.querySelector('#live-recommendation .badge.outcome')"
        ".innerText.includes('self-hosted')"
    )
    assert "self-hosted" in aside.locator(".badge.outcome").inner_text()
    assert before  # there was an answer before the change too


def test_the_cost_chart_is_drawn_with_plotly_from_static_files(browser_page, alice):
    load_seed_catalogue()
    use_case = UseCaseFactory(owner=alice, requests_per_day=60_000)
    submit_use_case(use_case=use_case, by=alice)
    requests: list[str] = []
    page = browser_page
    page.on("request", lambda r: requests.append(r.url))
    page.login("alice")
    page.goto(f"/use-cases/{use_case.pk}/")
    page.locator("#assessment-panel .cost-chart-plot").scroll_into_view_if_needed()
    page.wait_for_selector("#assessment-panel .cost-chart-plot .main-svg")
    assert (
        page.locator("#assessment-panel .cost-chart-plot .scatterlayer .trace").count()
        >= 2
    )
    assert any("/static/plotly/plotly" in url for url in requests)
    assert all(url.startswith(page.url.split("/use-cases")[0]) for url in requests)
