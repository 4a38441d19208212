from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import CatalogModel, GpuProfile, PriceSnapshot
from .offers import ManagedOffer


@admin.register(CatalogModel)
class CatalogModelAdmin(SimpleHistoryAdmin):
    list_display = (
        "key",
        "name",
        "provider",
        "capability_tier",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "active",
    )
    list_filter = ("provider", "capability_tier", "open_weights", "active")
    search_fields = ("key", "name", "provider")


@admin.register(GpuProfile)
class GpuProfileAdmin(SimpleHistoryAdmin):
    list_display = ("key", "name", "gpu", "usd_per_gpu_hour", "provider")


@admin.register(PriceSnapshot)
class PriceSnapshotAdmin(admin.ModelAdmin):
    list_display = ("key", "date", "source")


@admin.register(ManagedOffer)
class ManagedOfferAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "provider",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "inside_our_infrastructure",
        "active",
    )
    list_filter = ("provider", "inside_our_infrastructure", "active")
    search_fields = ("model__key", "provider")
