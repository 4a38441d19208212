"""`/api/v1/use-cases/{id}/decision/` and `/timeline/`: the board's record, by API."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.pagination import PageNumberPagination
from apps.reviews import services
from apps.reviews.models import Decision, Pattern
from apps.reviews.timeline import build_timeline
from apps.usecases import lifecycle
from apps.usecases.access import get_use_case_for


class RouteTargetSerializer(serializers.Serializer):
    """For the schema: the gateway validates routes (apps.gateway.routes)."""

    endpoint = serializers.IntegerField(help_text="A serving endpoint's id.")
    model = serializers.CharField(help_text="The served model's name.")
    weight = serializers.IntegerField(min_value=0, default=1)


class RouteSerializer(serializers.Serializer):
    workload = serializers.CharField(help_text="A task type of the use-case.")
    targets = RouteTargetSerializer(many=True)
    fallback = RouteTargetSerializer(many=True, required=False)


@extend_schema_field(RouteSerializer(many=True))
class RoutesField(serializers.JSONField):
    """Routes passed through as sent, so the gateway's checks report every problem
    with its path (``routes[0].targets[1].endpoint``); the schema shows the shape."""


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Declared so the schema admits "" (no pattern, e.g. on a rejection).
    pattern = serializers.ChoiceField(
        choices=Pattern.choices, allow_blank=True, read_only=True
    )
    recommended_pattern = serializers.ChoiceField(
        choices=Pattern.choices, allow_blank=True, read_only=True
    )
    routes = RouteSerializer(many=True, read_only=True)
    amendment = serializers.BooleanField(
        source="is_amendment",
        read_only=True,
        help_text="A change of routes to the approval in force (no status move).",
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "use_case",
            "outcome",
            "pattern",
            "recommended_pattern",
            "overrule_reason",
            "chosen_models",
            "conditions",
            "routes",
            "amendment",
            "comment",
            "decided_by",
            "transition",
            "created_at",
        ]
        read_only_fields = fields


class DecisionInputSerializer(serializers.Serializer):
    """The rules that span fields (OpenAPI 3.0 cannot state them) are in the
    descriptions; breaking one is a 400 naming the field."""

    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    pattern = serializers.ChoiceField(
        choices=Pattern.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required (not blank) when `outcome` is `approved`.",
    )
    overrule_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when `pattern` differs from the framework's "
        "recommended pattern.",
    )
    chosen_models = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    conditions = serializers.ListField(
        child=serializers.CharField(max_length=500),
        required=False,
        default=list,
        help_text="One text each, optionally followed by `| YYYY-MM-DD` (due "
        "date), `| before go-live` and `| @username` (owner; default the "
        "use-case's owner). Each becomes a tracked task "
        "(`use-cases/{id}/conditions/`). An approval needs every approval stage "
        "the risk policy requires to have approved (`use-cases/{id}/stages/`), and "
        "a practice prohibited by the EU AI Act is never approved: a 400 on "
        "`outcome`.",
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="When `outcome` is `changes_requested`, this or `conditions` is "
        "required.",
    )
    routes = RoutesField(
        required=False,
        allow_null=True,
        help_text="On an approval: per workload (a task type of the use-case), "
        "targets that are existing endpoints and models they serve. An approval "
        "of a use-case already approved or live amends: it must give routes that "
        "differ from those in force and change nothing else.",
    )


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True)
    summary = serializers.CharField()
    details = serializers.ListField(child=serializers.CharField())
    internal = serializers.BooleanField()


class DecisionView(APIView):
    """The use-case's latest board decision; the board records a new one with POST."""

    @extend_schema(responses=DecisionSerializer)
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        decision = (
            Decision.objects.filter(use_case=use_case)
            .select_related("decided_by")
            .last()
        )
        if decision is None:
            raise NotFound("No decision yet.")
        return Response(DecisionSerializer(decision).data)

    @extend_schema(request=DecisionInputSerializer, responses={201: DecisionSerializer})
    def post(self, request, pk: int):  # type: ignore[no-untyped-def]
        """Decide (board only): moves the use-case; 409 when it is not under review.

        An approval of a use-case already approved or live amends its routes: a
        new decision (same pattern, models and conditions) without a move.
        """
        use_case = get_use_case_for(request.user, pk)
        if not services.may_decide(request.user):
            raise PermissionDenied("Only the architecture board decides.")
        payload = DecisionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            decision = services.decide_use_case(
                use_case=use_case, by=request.user, **payload.validated_data
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        except lifecycle.TransitionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(
            DecisionSerializer(decision).data, status=status.HTTP_201_CREATED
        )


class TimelineView(APIView):
    """The use-case's audit trail, oldest first (read-only), a page at a time."""

    # Read by drf-spectacular too: the schema shows the page, not a bare array.
    pagination_class = PageNumberPagination

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        entries = [
            e.as_dict() for e in build_timeline(use_case=use_case, user=request.user)
        ]
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(page)
