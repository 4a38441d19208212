"""The bell and the inbox in Chromium: the count, htmx mark-read, opening an item."""

from __future__ import annotations

import pytest

from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_sees_the_bell_count_marks_read_and_opens_the_use_case(
    browser_page, alice, bob, carol
):
    use_case = UseCaseFactory(
        owner=alice, title="Invoice extraction", data_classification="confidential"
    )
    transition_use_case(use_case=use_case, to_status=UseCase.Status.SUBMITTED, by=alice)
    page = browser_page

    page.login("carol")  # another team's requester: nothing about it
    assert page.locator("a.bell .badge").count() == 0
    page.goto("/notifications/")
    assert page.locator("text=Invoice extraction").count() == 0

    page.context.clear_cookies()
    page.login("bob")
    assert page.locator("a.bell .badge").inner_text() == "1"
    page.click("a.bell")
    page.wait_for_selector("li.notification.unread")
    page.evaluate("window.__marker = 'still here'")
    page.click("li.notification >> text=Mark read")
    page.wait_for_selector("li.notification:not(.unread)")
    assert page.evaluate("window.__marker") == "still here"  # htmx swap, no reload
    page.reload()
    assert page.locator("a.bell .badge").count() == 0

    page.click("li.notification >> text=Submitted for review: Invoice extraction")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/reviews/{use_case.pk}/")
