"""A requester files a use-case end to end through the real pages."""

import pytest

from apps.usecases.models import UseCase

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_requester_files_a_use_case_end_to_end(browser_page, alice):
    page = browser_page
    page.login("alice")
    page.click("text=New request")
    page.fill("#id_title", "Invoice extraction")
    page.fill("#id_description", "Pulls totals and due dates out of supplier invoices.")
    page.check("input[name=data_classification][value=confidential]")
    page.check("input[name=special_categories][value=financial]")

    # A bad value is flagged inline (htmx) and nothing typed is lost.
    page.fill("#id_requests_per_day", "-3")
    page.locator("#id_requests_per_day").blur()
    page.wait_for_selector("#err-requests_per_day li")
    assert "greater than or equal" in page.inner_text("#err-requests_per_day")
    page.fill("#id_requests_per_day", "12000")
    page.locator("#id_requests_per_day").blur()
    page.wait_for_function(
        "document.querySelector('#err-requests_per_day').innerText.trim() === ''"
    )

    page.fill("#id_avg_input_tokens", "1500")
    page.fill("#id_avg_output_tokens", "200")
    page.check("input[name=mlops_readiness][value=limited]")
    page.check("input[name=horizon][value=production]")
    page.select_option("select[name=workloads-0-task_type]", "extraction")
    page.fill("input[name=workloads-0-share]", "80")
    page.click("text=+ Add a workload")
    page.wait_for_selector("select[name=workloads-1-task_type]")
    page.select_option("select[name=workloads-1-task_type]", "summarisation")
    page.fill("input[name=workloads-1-share]", "20")
    page.click("text=Save and submit for review")

    page.wait_for_selector("text=Submitted to the architecture board.")
    assert page.inner_text("#status") == "Submitted"
    use_case = UseCase.objects.get()
    assert use_case.owner == alice and use_case.status == "submitted"
    assert sorted(use_case.workloads.values_list("share", flat=True)) == [20, 80]

    with page.expect_navigation():  # count on the list, not on the page we left
        page.click("text=My use-cases")
    page.wait_for_selector("h1")
    assert page.locator("text=Invoice extraction").count() == 1
