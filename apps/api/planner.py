"""`/api/v1/portfolio/plan/` and `/api/v1/portfolio/plans/`: the portfolio planner.

`POST portfolio/plan/` takes a scenario and returns the plan (nothing is saved,
so a read-only token may call it); `portfolio/plans/` lists the plans the board
kept as evidence, and the board saves one by POSTing a scenario with a name.
Readers of everything (board, platform, procurement, auditors) plan and read.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.framework import engine
from apps.framework.engine.planner import MAX_PRICE_PERCENT, MAX_VOLUME_FACTOR
from apps.portfolio.models import SavedPlan
from apps.portfolio.planner import can_plan, can_save_plans, run_plan, save_plan
from apps.usecases.models import UseCase

# --- Request -------------------------------------------------------------------


class VolumeChangeSerializer(serializers.Serializer):
    team = serializers.CharField(
        required=False, allow_null=True, help_text="A team's name; null: everyone."
    )
    factor = serializers.FloatField(
        min_value=0, max_value=MAX_VOLUME_FACTOR, help_text="Volume times factor (> 0)."
    )


class PriceChangeSerializer(serializers.Serializer):
    vendor = serializers.CharField(
        help_text="A vendor selling tokens in the catalogue."
    )
    percent = serializers.FloatField(
        min_value=-100, max_value=MAX_PRICE_PERCENT, help_text="+30 raises prices 30 %."
    )


class ScenarioSerializer(serializers.Serializer):
    """What changes if (documentation; the engine validates)."""

    volume_changes = VolumeChangeSerializer(many=True, required=False)
    price_changes = PriceChangeSerializer(many=True, required=False)
    retired_models = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Model keys withdrawn."
    )
    gpu_usd_per_hour = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1_000,
        help_text="Price of the default GPU profile (> 0).",
    )
    mlops_readiness = serializers.ChoiceField(
        choices=UseCase.MlopsReadiness.choices,
        required=False,
        help_text="The platform team's, which runs the shared pools.",
    )
    live_usage = serializers.BooleanField(
        required=False,
        help_text="Use the usage ledger's last 30 days instead of declared volumes.",
    )


class SavePlanSerializer(ScenarioSerializer):
    name = serializers.CharField(max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5_000)


# --- Response ------------------------------------------------------------------


class PlanTotalsSerializer(serializers.Serializer):
    monthly_cost = serializers.FloatField()
    standalone_monthly_cost = serializers.FloatField()
    saving = serializers.FloatField()
    gpus = serializers.IntegerField()
    pools = serializers.IntegerField()


class PlanSerializer(serializers.Serializer):
    summary = serializers.CharField()
    currency = serializers.CharField()
    period = serializers.CharField()
    monthly_cost = serializers.FloatField()
    standalone_monthly_cost = serializers.FloatField()
    saving = serializers.FloatField()
    gpus = serializers.IntegerField()
    standalone_gpus = serializers.IntegerField()
    mlops_readiness = serializers.CharField()
    cost_by_option = serializers.DictField(child=serializers.FloatField())
    pools = serializers.ListField(child=serializers.DictField())
    use_cases = serializers.ListField(child=serializers.DictField())
    unplaced = serializers.ListField(child=serializers.DictField())
    exposure = serializers.ListField(child=serializers.DictField())
    policy_version = serializers.CharField()
    price_snapshot = serializers.CharField()


class PlanRunSerializer(serializers.Serializer):
    scenario = serializers.DictField()
    scenario_description = serializers.CharField()
    live_usage = serializers.BooleanField()
    baseline = PlanTotalsSerializer()
    plan = PlanSerializer()
    changes = serializers.ListField(
        child=serializers.DictField(),
        help_text="Use-cases whose planned answer differs from the plan as things "
        "are, with before, after and the monthly cost of moving.",
    )
    chart = serializers.DictField(
        help_text="Planned and stand-alone monthly cost as the portfolio's volume "
        "scales (volume_factor, planned_monthly_cost, standalone_monthly_cost, gpus)."
    )


class SavedPlanSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    monthly_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    standalone_monthly_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    saving = serializers.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        model = SavedPlan
        fields = [
            "id",
            "name",
            "note",
            "scenario",
            "live_usage",
            "monthly_cost",
            "standalone_monthly_cost",
            "saving",
            "gpus",
            "pools",
            "use_cases",
            "policy_version",
            "price_snapshot",
            "created_by",
            "created_at",
            "result",
        ]
        read_only_fields = fields


EXAMPLE = {
    "volume_changes": [{"team": "Claims", "factor": 3}],
    "price_changes": [{"vendor": "OpenAI", "percent": 30}],
    "retired_models": [],
    "gpu_usd_per_hour": None,
    "mlops_readiness": "established",
    "live_usage": False,
}


class CanPlan(permissions.BasePermission):
    message = "The plan covers every team: board, platform, procurement and auditors."

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        return can_plan(request.user)


def _run(data: Any, *, with_chart: bool = True) -> Any:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Expected an object."]})
    scenario = {
        k: v for k, v in data.items() if k not in {"live_usage", "name", "note"}
    }
    live = data.get("live_usage", False)
    if not isinstance(live, bool):
        raise ValidationError({"live_usage": ["Must be true or false."]})
    try:
        return run_plan(scenario=scenario, live_usage=live, with_chart=with_chart)
    except engine.InputError as exc:
        raise ValidationError(exc.errors) from exc
    except (ArithmeticError, OverflowError) as exc:
        raise ValidationError(
            {"volume_changes": ["These volumes are too large to plan."]}
        ) from exc


class PortfolioPlanViewSet(viewsets.ViewSet):
    """Plan the portfolio under a scenario without saving anything."""

    permission_classes = [permissions.IsAuthenticated, CanPlan]
    # Planning stores nothing, so a read-only token may POST here.
    stores_nothing = True

    @extend_schema(
        request=ScenarioSerializer,
        responses={200: PlanRunSerializer},
        examples=[OpenApiExample("Claims x 3, OpenAI +30 %", value=EXAMPLE)],
        summary="Plan the portfolio: pooled self-hosting, managed and API",
        description=(
            "Allocates every submitted, approved and live use-case: shared "
            "self-hosted pools where they save money, each use-case's own answer "
            "elsewhere. The scenario (all fields optional) scales volumes for a team "
            "or everyone, changes one vendor's prices, withdraws models, re-prices "
            "the default GPU, sets the platform's ML-ops readiness or swaps declared "
            "volumes for live usage. `changes` lists the use-cases whose answer "
            "moves against the plan as things are. Nothing is stored; unknown "
            "teams, vendors or models and out-of-range values give 400 per field. "
            "An empty portfolio gives an empty plan."
        ),
    )
    def create(self, request: Request) -> Response:
        return Response(_run(request.data).as_dict())


class SavedPlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Plans the board kept as evidence; the board saves, readers of all read."""

    permission_classes = [permissions.IsAuthenticated, CanPlan]
    serializer_class = SavedPlanSerializer
    queryset = SavedPlan.objects.select_related("created_by")
    # Newest first, always: no filters or orderings to document.
    filter_backends: list[type] = []

    @extend_schema(
        request=SavePlanSerializer,
        responses={201: SavedPlanSerializer},
        summary="Save a plan as board evidence (board only)",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can_save_plans(request.user):
            raise PermissionDenied("Only the board saves plans.")
        data = request.data if isinstance(request.data, dict) else {}
        name = data.get("name")
        note = data.get("note", "")
        errors: dict[str, list[str]] = {}
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["A name is required."]
        elif len(name) > 200:
            errors["name"] = ["Ensure this field has no more than 200 characters."]
        if not isinstance(note, str) or len(note) > 5_000:
            errors["note"] = ["A text of at most 5,000 characters."]
        if errors:
            raise ValidationError(errors)
        run = _run(request.data, with_chart=False)
        saved = save_plan(run=run, name=name.strip(), note=note, by=request.user)
        return Response(SavedPlanSerializer(saved).data, status=status.HTTP_201_CREATED)
