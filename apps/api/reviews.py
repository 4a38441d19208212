"""`/api/v1/use-cases/{id}/decision/` and `/timeline/`: the board's record, by API."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
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


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Declared so the schema admits "" (no pattern, e.g. on a rejection).
    pattern = serializers.ChoiceField(
        choices=Pattern.choices, allow_blank=True, read_only=True
    )
    recommended_pattern = serializers.ChoiceField(
        choices=Pattern.choices, allow_blank=True, read_only=True
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
            "comment",
            "decided_by",
            "transition",
            "created_at",
        ]
        read_only_fields = fields


class DecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    pattern = serializers.ChoiceField(
        choices=Pattern.choices, required=False, allow_blank=True, default=""
    )
    overrule_reason = serializers.CharField(
        required=False, allow_blank=True, default=""
    )
    chosen_models = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )
    conditions = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="")


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
        """Decide (board only): moves the use-case; 409 when it is not under review."""
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
    """The use-case's audit trail, oldest first (read-only)."""

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        entries = [
            e.as_dict() for e in build_timeline(use_case=use_case, user=request.user)
        ]
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(page)
