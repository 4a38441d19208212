"""The board narrows the review queue by typing, without a reload."""

import pytest

from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_in_the_queue_search_keeps_only_matching_use_cases(
    browser_page, alice, carol, bob
):
    for owner, title in ((alice, "Invoice extraction"), (carol, "Ward rota helper")):
        submit_use_case(use_case=UseCaseFactory(owner=owner, title=title), by=owner)
    page = browser_page
    page.login("bob")
    page.goto("/reviews/")
    assert page.locator("#queue-table tbody tr").count() == 2
    assert page.inner_text("[data-count=submitted]") == "2"
    page.evaluate("window.__marker = 'still here'")

    page.fill("#queue-search", "rota")
    page.wait_for_function(
        "(() => { const t = document.querySelector('#queue-table');"
        " return t && !t.innerText.includes('Invoice extraction'); })()"
    )
    assert page.locator("#queue-table tbody tr").count() == 1
    assert "Ward rota helper" in page.inner_text("#queue-table")
    assert page.evaluate("window.__marker") == "still here"  # an htmx swap
    assert "q=rota" in page.url  # the address keeps the search

    page.fill("#queue-search", "nothing like this")
    page.wait_for_function("!document.querySelector('#queue-table')")


def test_a_board_member_takes_a_review_and_finds_it_under_assigned_to_me(
    browser_page, alice, carol, bob
):
    mine = UseCaseFactory(owner=alice, title="Invoice extraction")
    other = UseCaseFactory(owner=carol, title="Ward rota helper")
    for use_case in (mine, other):
        submit_use_case(use_case=use_case, by=use_case.owner)
    page = browser_page
    page.login("bob")
    page.goto(f"/reviews/{mine.pk}/")
    assert "nobody yet" in page.inner_text("#reviewer")
    page.click("#assign-form button")  # the reader is chosen by default
    page.wait_for_selector("text=reviews this use-case.")
    assert "Reviewer:" in page.inner_text("#reviewer")

    page.goto("/reviews/")
    page.select_option("select[name=assigned]", "me")
    page.wait_for_function(
        "(() => { const t = document.querySelector('#queue-table');"
        " return t && !t.innerText.includes('Ward rota helper'); })()"
    )
    assert "Invoice extraction" in page.inner_text("#queue-table")
    assert "assigned=me" in page.url
