"""The board's decision is shown back and confirmed before it is recorded; an
invalid one is summarised at the top and nothing is recorded."""

import pytest

from apps.reviews.models import Decision
from apps.usecases.models import UseCase
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_approval_is_shown_back_and_recorded_only_once_confirmed(
    browser_page, alice, bob
):
    use_case = UseCaseFactory(owner=alice, title="Invoice extraction")
    submit_use_case(use_case=use_case, by=alice)
    page = browser_page
    page.login("bob")
    page.goto(f"/reviews/{use_case.pk}/")
    page.check("input[name=outcome][value=approved]")
    page.select_option("select[name=pattern]", "proprietary_api")
    page.fill("textarea[name=conditions]", "Re-review at 50,000 requests a day")
    page.click("#decision-form button:has-text('Check the decision')")

    check = page.locator("#decision-check")
    check.wait_for()
    text = check.inner_text()
    assert "nothing is recorded until you confirm" in text
    assert "Approved" in text and "Proprietary API" in text
    assert "Re-review at 50,000 requests a day" in text
    assert page.evaluate("document.activeElement.id") == "decision-check"
    # Shown, not recorded.
    assert not Decision.objects.filter(use_case=use_case).exists()
    assert UseCase.objects.get(pk=use_case.pk).status == "submitted"

    page.click("#confirm-form button")
    page.wait_for_selector("text=Decision recorded: approved.")
    decision = Decision.objects.get(use_case=use_case)
    assert (decision.outcome, decision.pattern) == ("approved", "proprietary_api")
    assert decision.conditions == ["Re-review at 50,000 requests a day"]


def test_an_invalid_decision_is_summarised_at_the_top_and_nothing_is_recorded(
    browser_page, alice, bob
):
    use_case = UseCaseFactory(owner=alice)
    submit_use_case(use_case=use_case, by=alice)
    page = browser_page
    page.login("bob")
    page.goto(f"/reviews/{use_case.pk}/")
    # Changes requested without saying which: the form refuses.
    page.check("input[name=outcome][value=changes_requested]")
    page.click("#decision-form button:has-text('Check the decision')")

    summary = page.locator("#error-summary")
    summary.wait_for()
    assert summary.inner_text().startswith("Nothing was recorded")
    assert "Say what needs to change." in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    box = summary.bounding_box()
    assert box is not None and box["y"] < 800  # at the top, not under the page
    summary.locator("a").first.click()
    assert page.url.endswith("#id_comment")
    assert not Decision.objects.filter(use_case=use_case).exists()
    assert UseCase.objects.get(pk=use_case.pk).status == "submitted"
