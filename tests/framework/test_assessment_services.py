"""Assessments: made on submit, kept immutable, renewed only when the answer changes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.catalogue.models import CatalogModel
from apps.catalogue.services import save_catalogue_model
from apps.framework.models import (
    Assessment,
    Policy,
    Trigger,
    latest_assessment_prefetch,
    with_latest_assessment,
)
from apps.framework.services import assess_use_case, change_policy, reassess_all
from apps.usecases.models import AuditEvent, UseCase
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

S = UseCase.Status


def submitted(**kwargs):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(**kwargs)
    submit_use_case(use_case=use_case, by=use_case.owner)
    return use_case


@pytest.mark.django_db
class TestAssessOnSubmit:
    def test_submitting_a_use_case_stores_an_assessment_with_its_costs(
        self, catalogue, alice
    ):
        use_case = submitted(owner=alice, requests_per_day=60_000)
        assessment = use_case.assessments.get()
        assert assessment.trigger == Trigger.SUBMIT
        assert assessment.created_by == alice
        assert assessment.outcome == assessment.result["outcome"]
        assert assessment.price_snapshot == catalogue.key
        assert assessment.policy_version == Policy.objects.current()
        expected = assessment.result["costs"]["recommended_monthly_cost"]
        assert assessment.monthly_cost == Decimal(str(expected))
        assert assessment.inputs["requests_per_day"] == 60_000
        assert [s["step"] for s in assessment.result["steps"]] == [
            "data_governance",
            "volume",
            "task_complexity",
            "operational_readiness",
            "strategic_timeline",
        ]
        assert assessment.cost_curves, "the chart's series are kept with the snapshot"

    def test_restricted_data_is_assessed_as_self_hosted(self, catalogue, alice):
        use_case = submitted(owner=alice, data_classification="restricted")
        assert use_case.assessments.get().outcome == "open_source_self_hosted"

    def test_it_records_the_assessment_in_the_audit_trail(self, catalogue, alice):
        use_case = submitted(owner=alice)
        event = AuditEvent.objects.get(use_case=use_case, kind="framework.assessed")
        assert event.data["assessment"] == use_case.assessments.get().pk
        assert event.actor == alice

    def test_submission_still_succeeds_without_a_catalogue(self, alice):
        use_case = submitted(owner=alice)
        use_case.refresh_from_db()
        assert use_case.status == S.SUBMITTED
        assert not use_case.assessments.exists()


@pytest.mark.django_db
class TestNewAssessmentOnlyWhenTheAnswerChanges:
    def test_it_makes_no_new_assessment_when_nothing_changed(self, catalogue, alice):
        use_case = submitted(owner=alice)
        assert assess_use_case(use_case=use_case, trigger=Trigger.MANUAL) is None
        assert use_case.assessments.count() == 1

    def test_it_makes_a_new_assessment_when_the_inputs_change(self, catalogue, alice):
        use_case = submitted(owner=alice, requests_per_day=20_000)
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=400_000)
        new = assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
        assert new is not None
        assert new.inputs["requests_per_day"] == 400_000
        assert use_case.assessments.count() == 2
        assert use_case.assessments.newest_first().first() == new

    def test_a_policy_change_that_moves_the_answer_reassesses(
        self, catalogue, alice, dave
    ):
        use_case = submitted(owner=alice, special_categories=["financial"])
        before = use_case.assessments.get()
        assert before.outcome != "open_source_self_hosted"
        settings = dict(Policy.objects.current().data)
        settings["categories_that_may_not_leave"] = [
            *settings["categories_that_may_not_leave"],
            "financial",
        ]
        policy, report = change_policy(data=settings, by=dave, note="finance stays")
        assert policy.number == 2
        after = use_case.assessments.newest_first().first()
        assert after.trigger == Trigger.POLICY_CHANGED
        assert after.policy_version == policy
        assert after.outcome == "open_source_self_hosted"
        assert report.changed_outcome == [after]
        assert Policy.objects.count() == 2, "the old version is kept"

    def test_a_policy_change_that_does_not_move_the_answer_keeps_the_assessment(
        self, catalogue, alice, dave
    ):
        use_case = submitted(owner=alice, horizon="production")
        settings = dict(Policy.objects.current().data)
        settings["horizon_months_experiment"] += 3
        _policy, report = change_policy(data=settings, by=dave)
        assert report.checked == 1
        assert report.created == []
        assert use_case.assessments.count() == 1

    def test_a_price_change_reassesses_once_committed(
        self, catalogue, alice, dave, django_capture_on_commit_callbacks
    ):
        use_case = submitted(owner=alice, requests_per_day=60_000)
        chosen = use_case.assessments.get().result["costs"]["options"][0]["model"]
        model = CatalogModel.objects.get(key=chosen)
        model.input_usd_per_mtok = model.input_usd_per_mtok * 3
        with django_capture_on_commit_callbacks(execute=True):
            snapshot = save_catalogue_model(model=model, by=dave, reason="price rise")
        latest = use_case.assessments.newest_first().first()
        assert latest.trigger == Trigger.PRICES_CHANGED
        assert latest.price_snapshot == snapshot.key
        assert use_case.assessments.count() == 2

    def test_drafts_and_retired_use_cases_are_not_reassessed(self, catalogue, alice):
        UseCaseFactory(owner=alice)
        UseCaseFactory(owner=alice, status=S.RETIRED)
        live = UseCaseFactory(owner=alice, status=S.LIVE)
        report = reassess_all(trigger=Trigger.MANUAL)
        assert report.checked == 1
        assert [a.use_case for a in report.created] == [live]

    def test_a_use_case_without_workloads_is_not_assessed(self, catalogue, alice):
        use_case = UseCaseFactory(owner=alice, status=S.SUBMITTED, workloads=[])
        use_case.workloads.all().delete()
        assert assess_use_case(use_case=use_case, trigger=Trigger.MANUAL) is None

    def test_it_rejects_an_unknown_trigger(self, catalogue, alice):
        use_case = UseCaseFactory(owner=alice)
        with pytest.raises(ValueError, match="trigger"):
            assess_use_case(use_case=use_case, trigger="whim")

    def test_the_reassess_command_reports_what_it_did(self, catalogue, alice, capsys):
        UseCaseFactory(owner=alice, status=S.IN_REVIEW)
        call_command("reassess")
        first = capsys.readouterr().out
        call_command("reassess")
        second = capsys.readouterr().out
        assert "1 use-case(s) checked, 1 re-assessed" in first
        assert "1 use-case(s) checked, 0 re-assessed" in second


@pytest.mark.django_db
class TestImmutability:
    def test_an_assessment_cannot_be_changed(self, catalogue, alice):
        assessment = submitted(owner=alice).assessments.get()
        assessment.outcome = "hybrid"
        with pytest.raises(PermissionError):
            assessment.save()
        with pytest.raises(PermissionError):
            Assessment.objects.filter(pk=assessment.pk).update(outcome="hybrid")
        assessment.refresh_from_db()
        assert assessment.outcome != "hybrid"

    def test_an_assessment_cannot_be_deleted(self, catalogue, alice):
        assessment = submitted(owner=alice).assessments.get()
        with pytest.raises(PermissionError):
            assessment.delete()
        with pytest.raises(PermissionError):
            Assessment.objects.all().delete()
        assert Assessment.objects.filter(pk=assessment.pk).exists()

    def test_a_policy_version_cannot_be_edited(self, policy):
        policy.note = "rewritten"
        with pytest.raises(PermissionError):
            policy.save()


@pytest.mark.django_db
class TestLatestPerUseCase:
    def make(self, n, alice):  # type: ignore[no-untyped-def]
        use_cases = []
        for i in range(n):
            use_case = submitted(owner=alice, requests_per_day=10_000 + i)
            UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=90_000 + i)
            assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
            use_cases.append(use_case)
        return use_cases

    def test_annotation_gives_each_use_case_its_latest_outcome_and_cost(
        self, catalogue, alice
    ):
        use_cases = self.make(2, alice)
        rows = {u.pk: u for u in with_latest_assessment(UseCase.objects.all())}
        for use_case in use_cases:
            latest = use_case.assessments.newest_first().first()
            row = rows[use_case.pk]
            assert row.latest_assessment_id == latest.pk
            assert row.latest_outcome == latest.outcome
            assert row.latest_monthly_cost == latest.monthly_cost

    @pytest.mark.parametrize("n", [5, 50])
    def test_lists_read_latest_assessments_in_constant_queries(
        self, catalogue, alice, n, django_assert_max_num_queries
    ):
        self.make(n, alice)
        with django_assert_max_num_queries(2):
            rows = list(UseCase.objects.prefetch_related(latest_assessment_prefetch()))
            assert all(len(r.latest_assessments) == 1 for r in rows)
        with django_assert_max_num_queries(1):
            latest = list(Assessment.objects.latest_per_use_case())
        assert len(latest) == n
