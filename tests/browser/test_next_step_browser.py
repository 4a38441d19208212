"""A use-case page opens with whose move it is and what to do."""

import pytest

from apps.reviews.services import decide_use_case
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_sees_what_the_board_asked_for_first_after_changes_are_requested(
    browser_page, alice, bob
):
    use_case = UseCaseFactory(owner=alice, title="Invoice extraction")
    submit_use_case(use_case=use_case, by=alice)
    decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="changes_requested",
        comment="Say how long invoices are kept in prompt logs.",
        conditions=["Name a data steward"],
    )
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.login("alice")
    page.goto(f"/use-cases/{use_case.pk}/")

    banner = page.locator("#next-step")
    assert banner.inner_text().startswith("Your move: the board asked for changes")
    assert "Say how long invoices are kept in prompt logs." in banner.inner_text()
    assert "Name a data steward" in banner.locator("li").all_inner_texts()
    # It is on the first screen of a phone, before anything else of the request.
    box = banner.bounding_box()
    assert box is not None and box["y"] + box["height"] < 844
    banner.get_by_role("button", name="Edit and resubmit").click()
    page.wait_for_url(f"**/use-cases/{use_case.pk}/edit/")


def test_the_board_is_told_to_start_the_review_and_others_to_wait(
    browser_page, alice, bob
):
    use_case = UseCaseFactory(owner=alice)
    submit_use_case(use_case=use_case, by=alice)
    page = browser_page
    page.login("bob")
    page.goto(f"/use-cases/{use_case.pk}/")
    assert page.inner_text("#next-step h2") == "Your move: start the board's review"
    page.context.clear_cookies()
    page.login("alice")
    page.goto(f"/use-cases/{use_case.pk}/")
    assert page.inner_text("#next-step h2").startswith("The board's move")
    # Each section of the long page is one click away.
    page.click(".section-menu >> text=Status history")
    page.wait_for_url("**#history")
