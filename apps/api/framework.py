"""`/api/v1/framework/evaluate/` and `/api/v1/use-cases/{id}/assessments/`."""

from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.filters import FILTER_BACKENDS
from apps.api.schema import BoundedListSerializer
from apps.framework import engine
from apps.framework.models import Assessment, Outcome
from apps.framework.services import evaluate_inputs
from apps.usecases.access import get_use_case_for
from apps.usecases.models import DataClassification, SpecialCategory, TaskType, UseCase


class WorkloadInputSerializer(serializers.Serializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    share = serializers.FloatField(
        min_value=0, max_value=100, help_text="Per cent of requests; shares sum to 100."
    )


# A use-case's own limits (apps.usecases.models.UseCase), so that what the schema
# admits can be costed: beyond them the costs overflow a float.
MAXIMA: dict[str, float] = {
    "requests_per_day": 1_000_000_000,
    "avg_input_tokens": 10_000_000,
    "avg_output_tokens": 1_000_000,
    "peak_factor": 100,
}


def _over_maxima(data: object) -> dict[str, list[str]]:
    """Field errors for numbers above :data:`MAXIMA` (the engine checks the rest)."""
    if not isinstance(data, dict):
        return {}
    return {
        name: [f"Ensure this value is less than or equal to {limit:,}."]
        for name, limit in MAXIMA.items()
        if isinstance(data.get(name), int | float)
        and not isinstance(data.get(name), bool)
        and data[name] > limit
    }


class EvaluateInputSerializer(serializers.Serializer):
    """The DESIGN §2 inputs (documentation; the engine validates)."""

    data_classification = serializers.ChoiceField(choices=DataClassification.choices)
    special_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=SpecialCategory.choices),
        required=False,
    )
    must_stay_in_infrastructure = serializers.BooleanField()
    requests_per_day = serializers.FloatField(
        min_value=0, max_value=MAXIMA["requests_per_day"]
    )
    avg_input_tokens = serializers.FloatField(
        min_value=0,
        max_value=MAXIMA["avg_input_tokens"],
        allow_null=True,
        help_text="null: token profile unknown.",
    )
    avg_output_tokens = serializers.FloatField(
        min_value=0, max_value=MAXIMA["avg_output_tokens"], allow_null=True
    )
    peak_factor = serializers.FloatField(
        min_value=1,
        max_value=MAXIMA["peak_factor"],
        required=False,
        allow_null=True,
        help_text="Busiest hour over the average; default from the policy.",
    )
    workloads = BoundedListSerializer(
        child=WorkloadInputSerializer(),
        min_length=1,
        help_text="At least one, each task type once, shares above 0 that add "
        "up to exactly 100; else a 400.",
    )
    capability_need = serializers.ChoiceField(choices=UseCase.CapabilityNeed.choices)
    context_tokens = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Largest context a request needs; null or absent: no stated need.",
    )
    mlops_readiness = serializers.ChoiceField(choices=UseCase.MlopsReadiness.choices)
    horizon = serializers.ChoiceField(choices=UseCase.Horizon.choices)
    fine_tuning_data = serializers.BooleanField(required=False)
    cached_input_share = serializers.FloatField(
        min_value=0, max_value=1, required=False
    )
    batch_share = serializers.FloatField(min_value=0, max_value=1, required=False)


class StepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=engine.STEPS)
    verdict = serializers.CharField()
    rationale = serializers.CharField()
    lean = serializers.IntegerField()
    decided = serializers.BooleanField()
    close_call = serializers.BooleanField()
    numbers = serializers.DictField()
    warnings = serializers.ListField(child=serializers.CharField())


class WorkloadResultSerializer(serializers.Serializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    share = serializers.FloatField()
    complexity = serializers.CharField()
    capability_tier = serializers.CharField()
    requests_per_day = serializers.FloatField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    model = serializers.CharField(allow_null=True)
    model_name = serializers.CharField(allow_null=True)
    monthly_cost = serializers.FloatField(allow_null=True)
    routing_rule = serializers.CharField()
    rationale = serializers.CharField()
    score = serializers.IntegerField()
    close_call = serializers.BooleanField()
    tips = serializers.ListField(child=serializers.CharField())
    break_even_requests_per_day = serializers.IntegerField(allow_null=True)
    steps = StepSerializer(many=True)
    costs = serializers.DictField()


class EvaluationSerializer(serializers.Serializer):
    """The DESIGN §7 assessment shape, plus summary, tips and provenance."""

    outcome = serializers.ChoiceField(choices=Outcome.choices)
    summary = serializers.CharField()
    close_call = serializers.BooleanField()
    steps = StepSerializer(many=True)
    costs = serializers.DictField(
        help_text="USD a month per capability-matched option, break-even and note."
    )
    break_even_requests_per_day = serializers.IntegerField(
        allow_null=True, help_text="Fully loaded; null when never or unknown."
    )
    break_even = serializers.DictField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())
    workloads = WorkloadResultSerializer(many=True)
    tips = serializers.ListField(child=serializers.CharField())
    policy_version = serializers.CharField()
    price_snapshot = serializers.DictField()


EXAMPLE = {
    "data_classification": "internal",
    "special_categories": ["personal"],
    "must_stay_in_infrastructure": False,
    "requests_per_day": 60000,
    "avg_input_tokens": 1500,
    "avg_output_tokens": 500,
    "peak_factor": 3,
    "workloads": [
        {"task_type": "classification", "share": 85},
        {"task_type": "reasoning", "share": 15},
    ],
    "capability_need": "standard",
    "context_tokens": 8000,
    "mlops_readiness": "established",
    "horizon": "core",
    "fine_tuning_data": False,
}


class EvaluateViewSet(viewsets.ViewSet):
    """Run the decision framework on inputs without saving anything."""

    # The one named exception to read scope: evaluating saves nothing, so a
    # read-only token may POST here (apps.accounts.authentication.STORES_NOTHING).
    stores_nothing = True

    @extend_schema(
        request=EvaluateInputSerializer,
        responses={200: EvaluationSerializer},
        examples=[
            OpenApiExample("Hybrid email router", value=EXAMPLE, request_only=True)
        ],
        summary="Evaluate inputs with the current policy and prices",
        description=(
            "Returns the recommendation, each step with its verdict and rationale, "
            "costs per option, break-even and warnings. Nothing is stored. Bad input "
            "gives 400 with the errors per field name (e.g. `workloads`, "
            "`requests_per_day`)."
        ),
    )
    def create(self, request: Request) -> Response:
        try:
            inputs = engine.Inputs.from_dict(request.data)
        except engine.InputError as exc:
            raise ValidationError({**exc.errors, **_over_maxima(request.data)}) from exc
        too_large = _over_maxima(request.data)
        if too_large:
            raise ValidationError(too_large)
        try:
            result = evaluate_inputs(inputs=inputs, with_curves=False).result
        except ArithmeticError:
            result = {"overflow": math.inf}
        if not _finite(result):
            # Volumes so large that costs overflow: a clear 400, not a 500.
            raise ValidationError(
                {
                    "requests_per_day": [
                        "These volumes are too large to evaluate: the costs overflow."
                    ]
                }
            )
        return Response(result)


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(item) for item in value)
    return True


class AssessmentSerializer(serializers.ModelSerializer):
    policy_version = serializers.IntegerField(
        source="policy_version.number", read_only=True
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    result = EvaluationSerializer(read_only=True)
    inputs = EvaluateInputSerializer(read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "use_case",
            "created_at",
            "created_by",
            "trigger",
            "outcome",
            "monthly_cost",
            "break_even_requests_per_day",
            "policy_version",
            "price_snapshot",
            "inputs",
            "result",
        ]


USE_CASE_ID = OpenApiParameter(
    "use_case_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Use-case id."
)


@extend_schema_view(
    list=extend_schema(
        parameters=[USE_CASE_ID],
        summary="Assessments of a use-case, newest first",
    ),
    retrieve=extend_schema(parameters=[USE_CASE_ID]),
)
class UseCaseAssessmentViewSet(viewsets.ReadOnlyModelViewSet):
    """A use-case's assessments (immutable snapshots); 404 if it is not visible."""

    serializer_class = AssessmentSerializer
    filterset_fields = ["outcome", "trigger"]
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["created_at"]
    search_fields: list[str] = []

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        use_case = get_use_case_for(self.request.user, self.kwargs["use_case_pk"])
        return Assessment.objects.filter(use_case=use_case).for_list()
