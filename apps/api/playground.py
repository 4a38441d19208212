"""`/api/v1/playground/`: runs (non-streaming), test sets and their results.

The same services and the same data guard as the pages: an external endpoint for
data that may not leave is refused with 403 and a message, and audited.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from apps.api.filters import FILTER_BACKENDS
from apps.api.schema import BoundedListSerializer
from apps.playground import ratelimit, services
from apps.playground.access import AttachForbidden
from apps.playground.guard import DataDeclaration, GuardRefused
from apps.playground.models import (
    MAX_COLUMNS,
    PlaygroundRun,
    RunOutput,
    TestInput,
    TestSet,
    TestSetRun,
    can_manage_test_sets,
)
from apps.usecases.access import get_use_case_for
from apps.usecases.models import DataClassification, SpecialCategory, UseCase


class PlaygroundThrottle(BaseThrottle):
    """The playground's per-user budget, shared with the page's streaming view."""

    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        self._wait = ratelimit.hit(request.user.pk)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class ModelPermission(permissions.BasePermission):
    """Reading needs the model's view permission; anything else its add permission."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        model = view.permission_model
        action_ = "view" if request.method in permissions.SAFE_METHODS else "add"
        return request.user.has_perm(f"playground.{action_}_{model}")


class RunOutputSerializer(serializers.ModelSerializer):
    tokens_per_second = serializers.FloatField(read_only=True, allow_null=True)
    html = serializers.CharField(read_only=True, help_text="Sanitised HTML.")

    class Meta:
        model = RunOutput
        fields = [
            "id",
            "position",
            "endpoint",
            "endpoint_name",
            "location",
            "model",
            "status",
            "text",
            "html",
            "error",
            "ttft_ms",
            "total_ms",
            "input_tokens",
            "output_tokens",
            "tokens_per_second",
            "cost_usd",
            "cost_basis",
        ]


class PlaygroundRunSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    outputs = RunOutputSerializer(many=True, read_only=True)

    class Meta:
        model = PlaygroundRun
        fields = [
            "id",
            "owner",
            "created_at",
            "system_prompt",
            "prompt",
            "temperature",
            "max_tokens",
            "data_classification",
            "special_categories",
            "must_stay_in_infrastructure",
            "may_leave_infrastructure",
            "profile_use_case",
            "use_case",
            "attached_at",
            "stopped",
            "outputs",
        ]
        read_only_fields = fields


class TargetSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField()
    model = serializers.CharField(max_length=200)


@extend_schema_field(OpenApiTypes.INT)
class VisibleUseCaseField(serializers.PrimaryKeyRelatedField):
    """A use-case id, among those the caller can see."""

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return UseCase.objects.visible_to(self.context["request"].user)


class RunRequestSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=50_000)
    system_prompt = serializers.CharField(
        max_length=20_000, required=False, allow_blank=True, default=""
    )
    temperature = serializers.FloatField(min_value=0, max_value=2, default=0.7)
    max_tokens = serializers.IntegerField(min_value=1, max_value=8192, default=512)
    targets = BoundedListSerializer(
        child=TargetSerializer(),
        min_length=1,
        max_length=MAX_COLUMNS,
        help_text="Chat-capable serving endpoints (`chat_capable`) and a model "
        "each serves (one of its `served_models`, when it lists any); else a 400.",
    )
    use_case = VisibleUseCaseField(
        required=False, allow_null=True, help_text="Its data profile decides."
    )
    data_classification = serializers.ChoiceField(
        choices=DataClassification.choices,
        required=False,
        help_text="Required unless `use_case` is given; else a 400.",
    )
    special_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=SpecialCategory.choices),
        required=False,
        default=list,
    )
    must_stay_in_infrastructure = serializers.BooleanField(default=False)

    def validate_targets(self, value: list[dict]) -> list[dict]:
        if not 1 <= len(value) <= MAX_COLUMNS:
            raise serializers.ValidationError(
                f"Give between one and {MAX_COLUMNS} targets."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("use_case") and not attrs.get("data_classification"):
            raise serializers.ValidationError(
                {
                    "data_classification": [
                        "State the data classification, or give a use-case."
                    ]
                }
            )
        return attrs

    def params(self) -> services.RunParams:
        data = self.validated_data
        use_case = data.get("use_case")
        declaration = (
            DataDeclaration.of_use_case(use_case)
            if use_case
            else DataDeclaration(
                classification=data["data_classification"],
                special_categories=tuple(sorted(set(data["special_categories"]))),
                must_stay_in_infrastructure=data["must_stay_in_infrastructure"],
            )
        )
        return services.RunParams(
            prompt=data["prompt"],
            system_prompt=data["system_prompt"],
            temperature=data["temperature"],
            max_tokens=data["max_tokens"],
            targets=[(t["endpoint"], t["model"]) for t in data["targets"]],
            declaration=declaration,
        )


class AttachSerializer(serializers.Serializer):
    use_case = VisibleUseCaseField()


def _refused(exc: GuardRefused) -> Response:
    return Response(
        {"detail": exc.message, "refused": exc.refused},
        status=status.HTTP_403_FORBIDDEN,
    )


class PlaygroundRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Playground runs: your own (board, platform, procurement and auditors: all).

    `POST` sends the prompt to every target, waits for every answer and saves the
    run (the page streams; the API does not).
    """

    serializer_class = PlaygroundRunSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ModelPermission]
    permission_model = "playgroundrun"
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        queryset = PlaygroundRun.objects.visible_to(self.request.user).for_list()
        use_case = self.request.query_params.get("use_case")
        if use_case and use_case.isdigit():
            queryset = queryset.filter(use_case_id=int(use_case))
        return queryset

    def get_throttles(self) -> list[Any]:
        throttles = super().get_throttles()
        if self.action == "create":
            throttles.append(PlaygroundThrottle())
        return throttles

    @extend_schema(
        request=RunRequestSerializer, responses={201: PlaygroundRunSerializer}
    )
    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        payload = RunRequestSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        try:
            run = services.execute_run(user=request.user, params=payload.params())
        except services.UnknownTarget as exc:
            raise ValidationError({"targets": [str(exc)]}) from exc
        except GuardRefused as exc:
            return _refused(exc)
        run = self.get_queryset().get(pk=run.pk)
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AttachSerializer, responses=PlaygroundRunSerializer)
    @action(detail=True, methods=["post"])
    def attach(self, request, pk=None):  # type: ignore[no-untyped-def]
        """Attach your run to a use-case you own or review, as evidence for the board."""
        run = self.get_object()
        if not run.can_attach(request.user):
            raise PermissionDenied("Only the run's owner attaches it.")
        payload = AttachSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        use_case = get_use_case_for(request.user, payload.validated_data["use_case"].pk)
        try:
            services.attach_run(run=run, use_case=use_case, by=request.user)
        except AttachForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data)


class TestInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = TestInput
        fields = ["id", "prompt", "check_kind", "expected"]


class TestSetSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    inputs = TestInputSerializer(many=True, read_only=True)

    class Meta:
        model = TestSet
        fields = [
            "id",
            "use_case",
            "name",
            "system_prompt",
            "temperature",
            "max_tokens",
            "judge_endpoint",
            "judge_model",
            "created_by",
            "created_at",
            "inputs",
        ]
        read_only_fields = fields


class SummarySerializer(serializers.Serializer):
    endpoint_name = serializers.CharField()
    model = serializers.CharField()
    location = serializers.CharField()
    count = serializers.IntegerField()
    passed = serializers.IntegerField()
    errors = serializers.IntegerField()
    pass_rate = serializers.FloatField(allow_null=True)
    median_latency_ms = serializers.FloatField(allow_null=True)
    cost_per_1000 = serializers.DecimalField(
        max_digits=14, decimal_places=4, allow_null=True
    )
    self_hosted = serializers.BooleanField()


class TestSetRunSerializer(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = TestSetRun
        fields = [
            "id",
            "test_set",
            "status",
            "targets",
            "total",
            "completed",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
            "summary",
        ]
        read_only_fields = fields

    @extend_schema_field(SummarySerializer(many=True, allow_null=True))
    def get_summary(self, run: TestSetRun) -> list[dict] | None:
        if not run.is_finished:
            return None
        return SummarySerializer(run.summary(), many=True).data


class RunTargetsSerializer(serializers.Serializer):
    targets = BoundedListSerializer(
        child=TargetSerializer(),
        min_length=1,
        max_length=MAX_COLUMNS,
        help_text="Chat-capable serving endpoints (`chat_capable`) and a model "
        "each serves (one of its `served_models`, when it lists any); else a 400.",
    )


class TestSetViewSet(viewsets.ReadOnlyModelViewSet):
    """Test sets with their inputs and checks: a requester's own and their team's
    use-cases' (board, platform, procurement and auditors: all)."""

    serializer_class = TestSetSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ModelPermission]
    permission_model = "testset"
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        queryset = (
            TestSet.objects.visible_to(self.request.user)
            .select_related("created_by")
            .prefetch_related("inputs")
        )
        use_case = self.request.query_params.get("use_case")
        if use_case and use_case.isdigit():
            queryset = queryset.filter(use_case_id=int(use_case))
        return queryset

    @extend_schema(request=RunTargetsSerializer, responses={202: TestSetRunSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=api_settings.DEFAULT_PERMISSION_CLASSES,
    )
    def run(self, request, pk=None):  # type: ignore[no-untyped-def]
        """Run the test set against candidates in the background (202; poll the run)."""
        test_set = self.get_object()
        if not can_manage_test_sets(request.user, test_set.use_case):
            raise PermissionDenied("You cannot run this test set.")
        payload = RunTargetsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            run = services.start_test_set_run(
                test_set=test_set,
                targets=[
                    (t["endpoint"], t["model"])
                    for t in payload.validated_data["targets"]
                ],
                by=request.user,
            )
        except services.UnknownTarget as exc:
            raise ValidationError({"targets": [str(exc)]}) from exc
        except GuardRefused as exc:
            return _refused(exc)
        return Response(TestSetRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TestSetRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Test set runs: progress, and per model pass rate, median latency, cost."""

    serializer_class = TestSetRunSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ModelPermission]
    permission_model = "testsetrun"
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            TestSetRun.objects.filter(
                test_set__in=TestSet.objects.visible_to(self.request.user).values("pk")
            )
            .select_related("started_by")
            .prefetch_related("results")
        )
