"""Through the real pages: a requester files a use-case with health and Indigenous
data; privacy and sovereignty stages open; the approver approves them; the board
decides; a condition goes overdue and shows on the portfolio."""

import datetime

import pytest

from apps.reviews.conditions import mark_overdue_conditions
from apps.reviews.models import Condition
from apps.risk.models import ApprovalStage
from apps.usecases.models import UseCase

from .conftest import EVIDENCE, SOVEREIGNTY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_as(page, username):  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.login(username)


def test_sensitive_use_case_passes_its_stages_then_the_board_and_a_late_condition_shows(
    browser_page, alice, bob
):
    page = browser_page
    sign_in_as(page, "alice")
    page.click("text=New request")
    page.fill("#id_title", "Whānau health triage")
    page.fill("#id_description", "Sorts referral letters for a kaupapa Māori clinic.")
    page.check("input[name=data_classification][value=internal]")
    page.check("input[name=special_categories][value=health]")
    page.check("input[name=special_categories][value=indigenous]")
    page.fill("#id_requests_per_day", "400")
    page.fill("#id_avg_input_tokens", "1500")
    page.fill("#id_avg_output_tokens", "200")
    page.check("input[name=mlops_readiness][value=limited]")
    page.check("input[name=horizon][value=production]")
    page.select_option("select[name=workloads-0-task_type]", "classification")
    page.fill("input[name=workloads-0-share]", "100")
    page.click("text=Save and submit for review")
    page.wait_for_selector("text=Submitted to the architecture board.")
    use_case = UseCase.objects.get()

    # The stages the data calls for are on the use-case page.
    page.wait_for_selector("#stage-privacy")
    page.wait_for_selector("#stage-data_sovereignty")
    assert page.locator("#stage-security").count() == 0

    # The requester answers the questionnaire; a missing answer is flagged.
    page.click("text=Fill in the risk assessment")
    page.select_option("#id_charter_likelihood", "occasional")
    page.select_option("#id_charter_impact", "moderate")
    page.fill("#id_pia_reference", "PIA-2026-07")
    for principle, answer in SOVEREIGNTY.items():
        if principle != "kaitiakitanga":
            page.fill(f"#id_sovereignty_{principle}", answer)
    for key, value in EVIDENCE.items():
        if key.endswith("_hosting"):
            page.select_option(f"#id_evidence_{key}", value)
        else:
            page.fill(f"#id_evidence_{key}", value)
    page.click("button[name=save]")
    page.wait_for_selector("text=answer this Te Mana Raraunga principle")
    page.fill("#id_sovereignty_kaitiakitanga", SOVEREIGNTY["kaitiakitanga"])
    page.click("button[name=save]")
    page.wait_for_selector("#risk-summary")
    assert "Moderate" in page.inner_text("#charter-risk")

    # The board's approver approves both stages on the review page.
    sign_in_as(page, "bob")
    for stage in ("privacy", "data_sovereignty"):
        page.goto(f"/reviews/{use_case.pk}/")
        form = page.locator(f"#stage-{stage} form")
        form.locator("input[name=outcome][value=approved]").check()
        form.locator("input[name=evidence]").fill("Checked the PIA and agreement.")
        form.locator("button:has-text('Record stage decision')").click()
        page.wait_for_selector("text=stage decided.")
    assert set(
        ApprovalStage.objects.filter(use_case=use_case).values_list("status", flat=True)
    ) == {"approved"}

    # The board decides, with a dated condition.
    page.goto(f"/reviews/{use_case.pk}/")
    page.wait_for_selector("#risk-panel")
    page.check("#decision-form input[name=outcome][value=approved]")
    page.select_option("select[name=pattern]", "open_source_self_hosted")
    page.fill("textarea[name=conditions]", "Bias audit with the iwi | 2027-01-10")
    page.click("#decision-form button:has-text('Check the decision')")
    page.click("#confirm-form button")
    page.wait_for_selector("text=Decision recorded: approved.")
    assert page.inner_text("#status") == "Approved"

    # The periodic task finds it late; the portfolio flags it.
    assert mark_overdue_conditions(today=datetime.date(2027, 1, 11)) == [
        Condition.objects.get().pk
    ]
    page.goto("/portfolio/")
    page.wait_for_selector("#overdue-conditions")
    assert "Bias audit with the iwi" in page.inner_text("#overdue-conditions")
    page.goto(f"/use-cases/{use_case.pk}/")
    page.wait_for_selector("#review-tasks .condition.overdue")
    assert "Overdue" in page.inner_text("#review-tasks")
