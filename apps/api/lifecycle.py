"""`/api/v1/lifecycle/`: deprecation flags, conformance flags and comparisons.

Everyone reads what concerns the use-cases they may see. The board, platform
and a use-case's owner and team (who manage its test sets) propose and start
comparisons; only the board adopts one, as an amendment of the routes.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apps.api.filters import FILTER_BACKENDS, StrictBooleanFilter
from apps.endpoints.models import ServingEndpoint
from apps.gateway.routes import current_routes
from apps.lifecycle import comparisons
from apps.lifecycle.models import Comparison, ConformanceFlag, DeprecationFlag
from apps.reviews.services import may_decide
from apps.usecases.models import UseCase

# Roles that may propose and start comparisons (object rules come after).
STARTERS = ("board", "platform", "requester")


class LifecycleWritePermission(permissions.BasePermission):
    """Reads: any signed-in user (rows are filtered); writes: the starters."""

    message = "Your role does not run comparisons."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        return user.is_superuser or user.has_role(*STARTERS)


PERMISSIONS = [*api_settings.DEFAULT_PERMISSION_CLASSES, LifecycleWritePermission]


def _refused(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class FlagFilter(django_filters.FilterSet):
    use_case = django_filters.NumberFilter(field_name="use_case_id")
    open = StrictBooleanFilter(method="only_open", label="Open flags only")

    def only_open(self, queryset, name, value):  # type: ignore[no-untyped-def]
        if value is None:
            return queryset
        return queryset.filter(**{f"{self.closed_field}__isnull": value})


class DeprecationFlagFilter(FlagFilter):
    closed_field = "resolved_at"

    class Meta:
        model = DeprecationFlag
        fields = ["use_case", "open"]


class ConformanceFlagFilter(FlagFilter):
    closed_field = "cleared_at"
    kind = django_filters.ChoiceFilter(choices=ConformanceFlag.Kind.choices)

    class Meta:
        model = ConformanceFlag
        fields = ["use_case", "open", "kind"]


class DeprecationFlagSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="key", read_only=True)
    successor = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )

    class Meta:
        model = DeprecationFlag
        fields = [
            "id",
            "use_case",
            "model",
            "served_model",
            "status",
            "end_date",
            "successor",
            "created_at",
            "resolved_at",
        ]


class ConformanceFlagSerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(
        source="endpoint_id_seen", read_only=True, allow_null=True
    )
    model = serializers.CharField(source="model_seen", read_only=True)

    class Meta:
        model = ConformanceFlag
        fields = [
            "id",
            "use_case",
            "kind",
            "key",
            "endpoint",
            "model",
            "detail",
            "requests",
            "first_seen",
            "last_seen",
            "cleared_at",
        ]


class DeprecationFlagViewSet(viewsets.ReadOnlyModelViewSet):
    """Use-cases routed to a model that is deprecated or retiring, by date."""

    serializer_class = DeprecationFlagSerializer
    filterset_class = DeprecationFlagFilter
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["end_date", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return DeprecationFlag.objects.visible_to(self.request.user).for_list()


class ConformanceFlagViewSet(viewsets.ReadOnlyModelViewSet):
    """Live traffic that strays from a decision, open until it conforms again."""

    serializer_class = ConformanceFlagSerializer
    filterset_class = ConformanceFlagFilter
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["first_seen", "last_seen"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return ConformanceFlag.objects.visible_to(self.request.user).for_list()


class ComparisonTargetSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(min_value=1)
    model = serializers.CharField(max_length=200)


class ComparisonSerializer(serializers.ModelSerializer):
    incumbent = ComparisonTargetSerializer(read_only=True)
    candidate = ComparisonTargetSerializer(read_only=True, allow_null=True)
    candidate_model = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )
    progress = serializers.SerializerMethodField()
    result = serializers.JSONField(
        read_only=True,
        help_text="Per side (incumbent, candidate): count, passed, failed, "
        "pass_rate, checks (per kind), latency_p50_ms, latency_p95_ms, "
        "cost_per_1000_usd, judge_cost_usd, failures; and gate (passed, reason).",
    )

    class Meta:
        model = Comparison
        fields = [
            "id",
            "use_case",
            "workload",
            "incumbent",
            "candidate_model",
            "candidate",
            "reason",
            "status",
            "progress",
            "result",
            "error",
            "adopted_decision_id",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, comparison: Comparison) -> int:
        """Per cent of the test set answers in."""
        return comparisons.progress(comparison)


class ComparisonCreateSerializer(serializers.Serializer):
    use_case = serializers.IntegerField(min_value=1)
    workload = serializers.CharField(max_length=40)
    candidate = ComparisonTargetSerializer()

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        use_case = UseCase.objects.visible_to(user).filter(pk=data["use_case"]).first()
        if use_case is None:
            raise ValidationError({"use_case": "No use-case you may see has this id."})
        route = next(
            (
                r
                for r in current_routes(use_case)
                if r.get("workload") == data["workload"]
            ),
            None,
        )
        if route is None or not route.get("targets"):
            raise ValidationError(
                {"workload": "The use-case has no approved route for this workload."}
            )
        candidate = data["candidate"]
        endpoint = ServingEndpoint.objects.filter(
            pk=candidate["endpoint"], chat_capable=True
        ).first()
        if endpoint is None:
            raise ValidationError(
                {"candidate": {"endpoint": "No chat-capable endpoint has this id."}}
            )
        served = endpoint.served_models or []
        if served and candidate["model"] not in served:
            raise ValidationError(
                {"candidate": {"model": f"“{endpoint.name}” does not serve it."}}
            )
        incumbent = route["targets"][0]
        if (incumbent["endpoint"], incumbent["model"]) == (
            candidate["endpoint"],
            candidate["model"],
        ):
            raise ValidationError({"candidate": "This is the incumbent itself."})
        data["use_case"] = use_case
        data["incumbent"] = {
            "endpoint": incumbent["endpoint"],
            "model": incumbent["model"],
        }
        return data


class StartSerializer(serializers.Serializer):
    candidate = ComparisonTargetSerializer(required=False)


class AdoptSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default=""
    )


class ComparisonViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Upgrade proposals and their side-by-side evidence (the upgrade gate)."""

    serializer_class = ComparisonSerializer
    permission_classes = PERMISSIONS
    filter_backends = FILTER_BACKENDS
    filterset_fields = ["status", "use_case"]
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            Comparison.objects.visible_to(self.request.user)
            .for_list()
            .prefetch_related("runs")
        )

    @extend_schema(
        request=ComparisonCreateSerializer, responses={201: ComparisonSerializer}
    )
    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Propose a comparison of a candidate with a route's first target."""
        body = ComparisonCreateSerializer(
            data=request.data, context={"request": request}
        )
        body.is_valid(raise_exception=True)
        data = body.validated_data
        probe = Comparison(use_case=data["use_case"])
        if not comparisons.may_start(request.user, probe):
            raise permissions.exceptions.PermissionDenied(
                "You may not run this use-case's test sets."
            )
        comparison = Comparison.objects.create(
            use_case=data["use_case"],
            workload=data["workload"],
            incumbent=data["incumbent"],
            candidate=dict(data["candidate"]),
            reason="proposed by hand",
        )
        return Response(
            ComparisonSerializer(comparison).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=StartSerializer, responses={202: ComparisonSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):  # type: ignore[no-untyped-def]
        """Run the use-case's test sets on incumbent and candidate (Celery)."""
        comparison = self.get_object()
        body = StartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        candidate = body.validated_data.get("candidate")
        try:
            comparisons.start_comparison(
                comparison=comparison,
                by=request.user,
                candidate=dict(candidate) if candidate else None,
            )
        except DjangoValidationError as exc:
            raise _refused(exc) from None
        return Response(
            ComparisonSerializer(comparison).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=AdoptSerializer, responses={200: ComparisonSerializer})
    @action(detail=True, methods=["post"])
    def adopt(self, request, pk=None):  # type: ignore[no-untyped-def]
        """The board adopts a candidate that passed: the routes are amended."""
        comparison = self.get_object()
        if not may_decide(request.user):
            raise permissions.exceptions.PermissionDenied(
                "Only the architecture board adopts an upgrade."
            )
        body = AdoptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            comparisons.adopt_comparison(
                comparison=comparison,
                by=request.user,
                comment=body.validated_data["comment"],
            )
        except DjangoValidationError as exc:
            raise _refused(exc) from None
        return Response(ComparisonSerializer(comparison).data)
