"""The board reviews through the real pages: queue, filter, request changes; the
requester edits and resubmits; the board approves."""

import re

import pytest

from apps.reviews.models import Decision
from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_as(page, username):  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.login(username)


def test_board_requests_changes_requester_resubmits_board_approves(
    browser_page, alice, carol, bob
):
    case = UseCaseFactory(
        owner=alice, title="Invoice extraction", data_classification="confidential"
    )
    other = UseCaseFactory(owner=carol, title="Ward rota helper")
    for use_case in (case, other):
        transition_use_case(
            use_case=use_case, to_status=UseCase.Status.SUBMITTED, by=use_case.owner
        )
    page = browser_page

    # The board opens the queue and narrows it without a full reload.
    sign_in_as(page, "bob")
    page.click("text=Review queue")
    page.wait_for_selector("#queue-table")
    assert page.locator("#queue-table >> text=Ward rota helper").count() == 1
    page.evaluate("window.__marker = 'still here'")
    page.select_option("select[name=data_classification]", "confidential")
    page.wait_for_function(
        "(() => { const t = document.querySelector('#queue-table');"
        " return t && !t.innerText.includes('Ward rota helper'); })()"
    )
    assert page.evaluate("window.__marker") == "still here"  # htmx swap, no reload
    assert "data_classification=confidential" in page.url

    # It opens the case and requests changes.
    page.click("#queue-table >> text=Invoice extraction")
    page.wait_for_selector("#decision-form")
    page.check("input[name=outcome][value=changes_requested]")
    page.fill(
        "textarea[name=comment]", "Say how long invoices are kept in prompt logs."
    )
    page.click("#decision-form button:has-text('Check the decision')")
    page.click("#confirm-form button")
    page.wait_for_selector("text=Decision recorded: changes requested.")
    assert page.inner_text("#status") == "Changes requested"

    # The requester sees the request, edits and resubmits.
    sign_in_as(page, "alice")
    page.goto(f"/use-cases/{case.pk}/")
    assert page.inner_text("#status") == "Changes requested"
    page.wait_for_selector("#review-thread")
    assert "Say how long invoices are kept in prompt logs." in page.inner_text(
        "#review-thread"
    )
    page.click("a:has-text('Edit')")
    page.fill(
        "#id_description",
        "Pulls totals and due dates out of supplier invoices. Prompt logs are "
        "kept for 30 days.",
    )
    page.click("text=Save and submit for review")
    page.wait_for_selector("text=Submitted to the architecture board.")
    assert page.inner_text("#status") == "Submitted"

    # The board approves.
    sign_in_as(page, "bob")
    page.goto(f"/reviews/{case.pk}/")
    assert "Prompt logs are kept for 30 days." in page.inner_text("#request")
    page.check("input[name=outcome][value=approved]")
    page.select_option("select[name=pattern]", "proprietary_api")
    page.fill("textarea[name=conditions]", "Re-review at 50,000 requests a day")
    page.click("#decision-form button:has-text('Check the decision')")
    page.click("#confirm-form button")
    page.wait_for_selector("text=Decision recorded: approved.")
    assert page.inner_text("#status") == "Approved"
    assert re.search(
        r"Re-review at 50,000 requests a day", page.inner_text("#timeline")
    )

    case.refresh_from_db()
    assert case.status == UseCase.Status.APPROVED
    assert list(
        Decision.objects.filter(use_case=case).values_list("outcome", flat=True)
    ) == ["changes_requested", "approved"]
