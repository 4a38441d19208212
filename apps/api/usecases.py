"""`/api/v1/use-cases/`: the same rules as the pages, through the same services."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import django_filters
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import SearchFilter
from rest_framework.response import Response

from apps.accounts.models import Team
from apps.api.schema import BoundedListSerializer
from apps.framework.models import Assessment, Outcome, with_latest_assessment
from apps.reviews.models import Decision, Pattern, latest_decisions
from apps.usecases import lifecycle, services
from apps.usecases.filters import UseCaseFilter
from apps.usecases.models import SpecialCategory, UseCase, Workload

from .renderers import CSVListMixin
from .reviews import DecisionSerializer

# 1 to 100 with at most two decimals (the model's validators), as a decimal string
# like every other decimal of the API.
PEAK_FACTOR_PATTERN = r"^0*(?:[1-9]\d?(?:\.\d{0,2})?|100(?:\.0{0,2})?)$"


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": PEAK_FACTOR_PATTERN,
        "description": "Busiest hour over the average: from 1 to 100, at most "
        "two decimals (default 2); anything else is a 400.",
    }
)
class PeakFactorField(serializers.DecimalField):
    pass


class WorkloadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workload
        fields = ["id", "task_type", "share", "notes"]


class TransitionSerializer(serializers.Serializer):
    to_status = serializers.ChoiceField(choices=UseCase.Status.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class UseCaseSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        help_text="Your own team (the default); only a superuser files for another.",
    )
    team_name = serializers.CharField(source="team.name", read_only=True)
    special_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=SpecialCategory.choices),
        required=False,
        default=list,
    )
    workloads = BoundedListSerializer(
        child=WorkloadSerializer(),
        min_length=1,
        help_text="At least one, each task type once, shares above 0 that add "
        "up to exactly 100; else a 400.",
    )
    recommendation = serializers.ChoiceField(
        source="latest_outcome",
        choices=Outcome.choices,
        read_only=True,
        allow_null=True,
        help_text="The latest assessment's outcome; null before the first one.",
    )
    estimated_monthly_cost = serializers.DecimalField(
        source="latest_monthly_cost",
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="USD a month for the recommended option, from the latest assessment.",
    )
    peak_factor = PeakFactorField(
        max_digits=5, decimal_places=2, min_value=1, max_value=100, required=False
    )
    decision = serializers.SerializerMethodField()

    class Meta:
        model = UseCase
        fields = [
            "id",
            "title",
            "description",
            "owner",
            "team",
            "team_name",
            "status",
            "data_classification",
            "special_categories",
            "must_stay_in_infrastructure",
            "requests_per_day",
            "avg_input_tokens",
            "avg_output_tokens",
            "peak_factor",
            "capability_need",
            "context_tokens",
            "mlops_readiness",
            "horizon",
            "fine_tuning_data",
            "workloads",
            "recommendation",
            "estimated_monthly_cost",
            "reassessment_flagged_at",
            "created_at",
            "updated_at",
            "submitted_at",
            "decision",
        ]
        read_only_fields = [
            "status",
            "reassessment_flagged_at",
            "created_at",
            "updated_at",
            "submitted_at",
        ]

    @extend_schema_field(DecisionSerializer(allow_null=True))
    def get_decision(self, obj: UseCase) -> dict | None:
        """The board's latest decision (prefetched by the viewset)."""
        decisions = list(obj.decisions.all())
        return DecisionSerializer(decisions[-1]).data if decisions else None

    def validate_special_categories(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_workloads(self, value: list[dict]) -> list[dict]:
        if not value:
            raise serializers.ValidationError("Add at least one workload.")
        # A PATCH makes nested fields optional too; each workload still needs both.
        if any("task_type" not in w or "share" not in w for w in value):
            raise serializers.ValidationError(
                "Give each workload its task_type and share."
            )
        total = sum(w["share"] for w in value)
        if total != 100:
            raise serializers.ValidationError(
                f"Workload shares add up to {total}; they must add up to 100."
            )
        return value

    def validate_team(self, team: Team) -> Team:
        user = self.context["request"].user
        if not user.is_superuser and team.pk != user.team_id:
            raise serializers.ValidationError("You can only file for your own team.")
        return team

    def validate(self, attrs: dict) -> dict:
        user = self.context["request"].user
        if self.instance is None and "team" not in attrs:
            if user.team is None:
                raise serializers.ValidationError({"team": ["Give the team."]})
            attrs["team"] = user.team
        return attrs

    def save_with(self, *, by) -> UseCase:  # type: ignore[no-untyped-def]
        data = dict(self.validated_data)
        workloads = data.pop("workloads", None)
        if workloads is None:  # a partial update that leaves the workloads alone
            workloads = list(
                self.instance.workloads.values("task_type", "share", "notes")
            )
        return services.save_use_case(
            fields=data, workloads=workloads, by=by, use_case=self.instance
        )


class DecisionSummarySerializer(serializers.ModelSerializer):
    """The latest decision as a list shows it; the detail route has every field."""

    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True
    )
    pattern = serializers.ChoiceField(
        choices=Pattern.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "outcome",
            "pattern",
            "chosen_models",
            "conditions",
            "decided_by",
            "created_at",
        ]
        read_only_fields = fields


class UseCaseListSerializer(serializers.ListSerializer):
    """A page of use-cases in three queries: the page, its workloads, its latest
    decisions (plain rows: no model built for either)."""

    def to_representation(self, data):  # type: ignore[no-untyped-def]
        rows = list(data)
        workloads: dict[int, list[dict]] = defaultdict(list)
        for workload in (
            Workload.objects.filter(use_case_id__in=[row["id"] for row in rows])
            .order_by("-share", "pk")
            .values("use_case_id", "id", "task_type", "share", "notes")
        ):
            workloads[workload.pop("use_case_id")].append(workload)
        wanted = [
            row["latest_decision_id"] for row in rows if row["latest_decision_id"]
        ]
        decisions = {
            decision["id"]: decision
            for decision in Decision.objects.filter(pk__in=wanted).values(
                "id",
                "outcome",
                "pattern",
                "chosen_models",
                "conditions",
                "created_at",
                decided_by_name=F("decided_by__username"),
            )
        }
        summarise = self.child.summarise
        return [
            summarise(
                row, workloads[row["id"]], decisions.get(row["latest_decision_id"])
            )
            for row in rows
        ]


class UseCaseSummarySerializer(serializers.ModelSerializer):
    """What a list needs of a use-case (GET /use-cases/); the rest is on the detail.

    Field names are the detail's; `decision` is the latest decision's summary. The
    fields below give the schema; :meth:`summarise` writes the same JSON straight
    from the columns, since a page of 100 through DRF's fields costs more than its
    queries.
    """

    owner = serializers.CharField(source="owner_username", read_only=True)
    team_name = serializers.CharField(read_only=True, allow_null=True)
    workloads = WorkloadSerializer(many=True, read_only=True)
    recommendation = serializers.ChoiceField(
        source="latest_outcome",
        choices=Outcome.choices,
        read_only=True,
        allow_null=True,
        help_text="The latest assessment's outcome; null before the first one.",
    )
    estimated_monthly_cost = serializers.DecimalField(
        source="latest_monthly_cost",
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="USD a month for the recommended option, from the latest assessment.",
    )
    decision = DecisionSummarySerializer(
        source="latest_decision",
        read_only=True,
        allow_null=True,
        help_text="The board's latest decision (null before there is one); its "
        "routes, comment and the rest are on the use-case's own route.",
    )

    class Meta:
        model = UseCase
        list_serializer_class = UseCaseListSerializer
        fields = [
            "id",
            "title",
            "owner",
            "team",
            "team_name",
            "status",
            "data_classification",
            "requests_per_day",
            "workloads",
            "recommendation",
            "estimated_monthly_cost",
            "reassessment_flagged_at",
            "created_at",
            "updated_at",
            "submitted_at",
            "decision",
        ]
        read_only_fields = fields

    def summarise(
        self, row: dict[str, Any], workloads: list[dict], decision: dict | None
    ) -> dict:
        """One row (a dict of the list's columns) as the fields above would write it:
        same names, same formats."""
        cost = row["latest_monthly_cost"]
        if decision is not None:
            decision = {
                "id": decision["id"],
                "outcome": decision["outcome"],
                "pattern": decision["pattern"],
                "chosen_models": decision["chosen_models"],
                "conditions": decision["conditions"],
                "decided_by": decision["decided_by_name"],
                "created_at": _moment(decision["created_at"]),
            }
        return {
            "id": row["id"],
            "title": row["title"],
            "owner": row["owner_username"],
            "team": row["team_id"],
            "team_name": row["team_name"],
            "status": row["status"],
            "data_classification": row["data_classification"],
            "requests_per_day": row["requests_per_day"],
            "workloads": workloads,
            "recommendation": row["latest_outcome"],
            "estimated_monthly_cost": None
            if cost is None
            else _MONEY.to_representation(cost),
            "reassessment_flagged_at": _moment(row["reassessment_flagged_at"]),
            "created_at": _moment(row["created_at"]),
            "updated_at": _moment(row["updated_at"]),
            "submitted_at": _moment(row["submitted_at"]),
            "decision": decision,
        }


def _moment(value: datetime | None) -> str | None:
    """A date-time as DRF writes it (ISO 8601 in the current zone, UTC as ``Z``),
    without a field's per-call checks."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


#: DRF's own format for the summary's amounts.
_MONEY = serializers.DecimalField(max_digits=14, decimal_places=2)


class UseCaseApiFilter(UseCaseFilter):
    """The pages' filters plus the latest assessment's outcome (DESIGN §7)."""

    outcome = django_filters.MultipleChoiceFilter(
        choices=Outcome.choices, field_name="latest_outcome", label="Recommendation"
    )

    class Meta(UseCaseFilter.Meta):
        fields = [*UseCaseFilter.Meta.fields, "outcome"]


class UseCaseViewSet(CSVListMixin, viewsets.ModelViewSet):
    serializer_class = UseCaseSerializer
    filterset_class = UseCaseApiFilter
    # `ordering` is the FilterSet's (the pages' choices, a 400 for any other).
    filter_backends = [DjangoFilterBackend, SearchFilter]
    search_fields = ["title", "description"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        use_cases = UseCase.objects.visible_to(self.request.user)
        if self.action == "list":
            # Only the columns a list shows; names and latest ids from the database.
            latest = Assessment.objects.filter(use_case=OuterRef("pk")).order_by(
                "-created_at", "-pk"
            )
            return (
                use_cases.for_api_list()
                .annotate(
                    latest_outcome=Subquery(latest.values("outcome")[:1]),
                    latest_monthly_cost=Subquery(latest.values("monthly_cost")[:1]),
                    latest_decision_id=Subquery(
                        Decision.objects.filter(use_case=OuterRef("pk"))
                        .order_by("-created_at", "-pk")
                        .values("pk")[:1]
                    ),
                )
                # Plain rows: a page builds no model instance.
                .values(
                    *UseCase.LIST_FIELDS,
                    "owner_username",
                    "team_name",
                    "latest_outcome",
                    "latest_monthly_cost",
                    "latest_decision_id",
                )
            )
        return with_latest_assessment(
            use_cases.for_list().prefetch_related(latest_decisions())
        )

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "list":
            return UseCaseSummarySerializer
        return UseCaseSerializer

    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Checked before validation, so other roles learn nothing from field errors.
        if not request.user.has_perm("usecases.add_usecase"):
            raise PermissionDenied("Only business owners file use-cases.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: UseCaseSerializer) -> None:
        serializer.instance = serializer.save_with(by=self.request.user)

    def update(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Checked before validation, as for create.
        if not self.get_object().can_edit(request.user):
            raise PermissionDenied(
                "Only the owner can edit, and only a draft or one with changes requested."
            )
        return super().update(request, *args, **kwargs)

    def perform_update(self, serializer: UseCaseSerializer) -> None:
        with transaction.atomic():
            serializer.instance = serializer.save_with(by=self.request.user)

    @extend_schema(request=TransitionSerializer, responses=UseCaseSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):  # type: ignore[no-untyped-def]
        """Move the use-case along its lifecycle (409 when the move is illegal).

        Approved, rejected and changes requested are board decisions: they are
        refused here with 409 and reached only through `POST
        /api/v1/use-cases/{id}/decision/`, which records the decision with them.
        """
        payload = TransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return self._move(request, **payload.validated_data)

    @extend_schema(request=None, responses=UseCaseSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):  # type: ignore[no-untyped-def]
        """Submit a draft (or a use-case with changes requested) to the board."""
        return self._move(request, to_status=UseCase.Status.SUBMITTED, comment="")

    def _move(self, request, *, to_status: str, comment: str):  # type: ignore[no-untyped-def]
        use_case = self.get_object()
        try:
            services.transition_use_case(
                use_case=use_case, to_status=to_status, by=request.user, comment=comment
            )
        except lifecycle.TransitionForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except lifecycle.DecisionRequired as exc:
            decision = reverse("api:use-case-decision", args=[use_case.pk])
            return Response(
                {
                    "detail": f"Moving a use-case to "
                    f"{UseCase.Status(exc.to_status).label.lower()} is a board "
                    f"decision: POST it to {decision} (with the pattern, conditions "
                    "and routes); nothing was changed."
                },
                status=status.HTTP_409_CONFLICT,
            )
        except lifecycle.TransitionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        use_case.refresh_from_db()
        return Response(self.get_serializer(use_case).data)
