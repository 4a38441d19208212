"""`/api/v1/endpoints/` and `/api/v1/usage/`: serving endpoints and their usage rows.

The API key is write-only: accepted on POST/PATCH, never returned (``has_api_key``
says whether one is stored).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import django_filters
from django.db.models import Prefetch
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from apps.api.filters import FILTER_BACKENDS, MomentFilter, StrictBooleanFilter
from apps.api.renderers import CSVListMixin
from apps.core.http import UnsafeURL
from apps.endpoints import services
from apps.endpoints.access import can_manage_endpoints
from apps.endpoints.models import EndpointMapping, ServingEndpoint, UsageSample
from apps.usecases.models import UseCase


class MappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = EndpointMapping
        fields = ["id", "model_name", "project_id", "api_key_id", "use_case", "team"]


class ModelNameField(serializers.CharField):
    """A model name: a JSON string (DRF's CharField would turn 7 into "7")."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class EndpointSerializer(serializers.ModelSerializer):
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        max_length=2000,
        help_text="Write-only; blank or absent keeps the stored key.",
        style={"input_type": "password"},
    )
    has_api_key = serializers.BooleanField(read_only=True)
    vendor = serializers.CharField(required=False, allow_blank=True, max_length=80)
    mappings = MappingSerializer(many=True, read_only=True)
    served_models = serializers.ListField(
        child=ModelNameField(max_length=200),
        required=False,
        help_text="Model names the endpoint serves (duplicates dropped); polling "
        "adds those it reports.",
    )

    class Meta:
        model = ServingEndpoint
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "location",
            "api_key",
            "has_api_key",
            "enabled",
            "poll_interval_seconds",
            "hourly_cost",
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "vendor",
            "chat_capable",
            "served_models",
            "health",
            "last_polled_at",
            "last_success_at",
            "last_error",
            "consecutive_failures",
            "next_poll_at",
            "mappings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "health",
            "last_polled_at",
            "last_success_at",
            "last_error",
            "consecutive_failures",
            "next_poll_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "name": {"help_text": "Unique among endpoints; a name in use is a 400."},
            "base_url": {
                "help_text": "The server's root, `http://` or `https://`, checked "
                "when saved and again at every connection: no credentials, "
                "backslashes, spaces or control characters; the host must resolve, "
                "and every address it resolves to must be public (not loopback, "
                "private, link-local or another IANA special-purpose range) unless "
                "the operator lists its network in ENDPOINT_ALLOWED_NETWORKS. "
                "Anything else is a 400 naming the rule.",
            },
        }

    def validate_base_url(self, value: str) -> str:
        value = value.strip()
        problem = services.base_url_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_served_models(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def save_with(self, *, by) -> ServingEndpoint:  # type: ignore[no-untyped-def]
        data = dict(self.validated_data)
        api_key = data.pop("api_key", "") or None
        try:
            return services.save_endpoint(
                endpoint=self.instance, fields=data, api_key=api_key, by=by
            )
        except UnsafeURL as exc:
            raise serializers.ValidationError({"base_url": [exc.message]}) from None


class EndpointFilter(django_filters.FilterSet):
    enabled = StrictBooleanFilter()

    class Meta:
        model = ServingEndpoint
        fields = ["kind", "location", "health", "enabled"]


class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Serving endpoints; platform registers and changes them, others read."""

    serializer_class = EndpointSerializer
    filterset_class = EndpointFilter
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["name", "last_success_at"]
    search_fields = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ServingEndpoint.objects.none()
        user = self.request.user
        mappings = EndpointMapping.objects.all()
        if not user.reads_everything:
            mappings = mappings.filter(
                use_case__in=UseCase.objects.visible_to(user).values("pk")
            )
        return (
            ServingEndpoint.objects.visible_to(user)
            .prefetch_related(Prefetch("mappings", queryset=mappings))
            .order_by("name")
        )

    def check_permissions(self, request):  # type: ignore[no-untyped-def]
        super().check_permissions(request)
        if request.method not in permissions.SAFE_METHODS and not can_manage_endpoints(
            request.user
        ):
            raise PermissionDenied("Only the ML platform team changes endpoints.")

    def perform_create(self, serializer: EndpointSerializer) -> None:
        serializer.instance = serializer.save_with(by=self.request.user)

    def perform_update(self, serializer: EndpointSerializer) -> None:
        serializer.instance = serializer.save_with(by=self.request.user)


class UsageSerializer(serializers.ModelSerializer):
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)

    class Meta:
        model = UsageSample
        fields = [
            "id",
            "endpoint",
            "endpoint_name",
            "model",
            "use_case",
            "team",
            "series",
            "bucket_start",
            "bucket_end",
            "requests",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "service_tier",
            "cost",
        ]


class UsageFilter(django_filters.FilterSet):
    """``start`` and ``end`` take a date (whole days, UTC) or a date-time."""

    start = MomentFilter(method="filter_start")
    end = MomentFilter(method="filter_end")

    class Meta:
        model = UsageSample
        fields = ["endpoint", "use_case", "model"]

    def filter_start(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.filter(bucket_start__gte=_moment(value, end=False))

    def filter_end(self, queryset, name, value):  # type: ignore[no-untyped-def]
        moment = _moment(value, end=True)
        return queryset.filter(bucket_start__lt=moment)


def _moment(value: str, *, end: bool) -> datetime:
    day = parse_date(value)
    if day is not None:
        if end:  # an end date includes that whole day
            day += timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=UTC)
    field = "end" if end else "start"
    try:
        moment = parse_datetime(value)
    except ValueError:  # well formed, but no such moment (a 25th hour, say)
        moment = None
    if moment is None:
        raise serializers.ValidationError(
            {field: ["Give a date or a date-time (ISO 8601)."]}
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    # In UTC: PostgreSQL takes offsets up to ±15:59 only, Python up to ±23:59.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise serializers.ValidationError(
            {field: ["That date-time is out of range."]}
        ) from None


class UsageViewSet(CSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Usage rows per endpoint, series and time bucket, of use-cases you can see."""

    serializer_class = UsageSerializer
    filterset_class = UsageFilter
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["bucket_start", "requests", "cost"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return UsageSample.objects.none()
        return (
            UsageSample.objects.visible_to(self.request.user)
            .filter(measure=UsageSample.Measure.USAGE)
            .select_related("endpoint")
            .order_by("-bucket_start", "pk")
        )
