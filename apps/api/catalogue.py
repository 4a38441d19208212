"""`/api/v1/catalogue/models/` and `/api/v1/catalogue/gpu-profiles/` (read-only)."""

from __future__ import annotations

from rest_framework import permissions, serializers, viewsets

from apps.api.filters import FILTER_BACKENDS, StrictBooleanFilter
from apps.api.renderers import CSVListMixin
from apps.catalogue.filters import CatalogModelFilter
from apps.catalogue.models import PRICE_FIELDS, CatalogModel, GpuProfile


class ViewPermission(permissions.BasePermission):
    """The role must hold the model's `view_` permission (ROLE_PERMISSIONS)."""

    message = "Your role does not read the catalogue."

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        model = view.queryset.model
        perm = f"{model._meta.app_label}.view_{model._meta.model_name}"
        return bool(request.user and request.user.has_perm(perm))


class ServingSizeSerializer(serializers.Serializer):
    max_params_b = serializers.FloatField()
    gpus_per_replica = serializers.IntegerField()
    prefill_tokens_per_s = serializers.FloatField()
    decode_tokens_per_s = serializers.FloatField()
    slo_efficiency = serializers.FloatField()
    kv_capacity_tokens = serializers.IntegerField(allow_null=True, required=False)
    source = serializers.CharField(required=False)


class GpuProfileSerializer(serializers.ModelSerializer):
    sizes = ServingSizeSerializer(many=True)

    class Meta:
        model = GpuProfile
        fields = [
            "id",
            "key",
            "name",
            "gpu",
            "memory_gb",
            "usd_per_gpu_hour",
            "provider",
            "provisioning",
            "price_source",
            "price_date",
            "is_default",
            "sizes",
        ]


class CatalogModelSerializer(serializers.ModelSerializer):
    hosting = serializers.ListField(child=serializers.CharField())
    gpu_profile = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )
    successor = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )

    class Meta:
        model = CatalogModel
        fields = [
            "id",
            "key",
            "name",
            "provider",
            "open_weights",
            "capability_tier",
            "context_window",
            "hosting",
            *PRICE_FIELDS,
            "hosted_by",
            "price_source",
            "price_date",
            "release_date",
            "status",
            "deprecation_date",
            "retirement_date",
            "family",
            "successor",
            "params_b",
            "precision",
            "gpu_profile",
            "litellm_key",
            "active",
        ]


class CatalogModelApiFilter(CatalogModelFilter):
    """The page's filters, with booleans that refuse anything but true or false."""

    open_weights = StrictBooleanFilter()
    active = StrictBooleanFilter()


class CatalogModelViewSet(CSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Models with dated prices (USD a million tokens); filter by tier, hosting..."""

    queryset = CatalogModel.objects.for_list()
    serializer_class = CatalogModelSerializer
    filterset_class = CatalogModelApiFilter
    permission_classes = [permissions.IsAuthenticated, ViewPermission]
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["name", "provider", "input_usd_per_mtok", "price_date"]
    search_fields = ["name", "key", "provider"]


class GpuProfileViewSet(viewsets.ReadOnlyModelViewSet):
    """GPU profiles: hourly price and serving sizes by model size."""

    queryset = GpuProfile.objects.all()
    serializer_class = GpuProfileSerializer
    permission_classes = [permissions.IsAuthenticated, ViewPermission]
    filterset_fields = ["gpu", "provisioning"]
    filter_backends = FILTER_BACKENDS
    ordering_fields = ["usd_per_gpu_hour", "key"]
    search_fields = ["name", "gpu", "provider"]
