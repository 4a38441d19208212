from django.contrib import admin

from .models import Comparison, ConformanceFlag, DeprecationFlag


@admin.register(DeprecationFlag)
class DeprecationFlagAdmin(admin.ModelAdmin):
    list_display = ("use_case", "model", "status", "end_date", "resolved_at")
    list_filter = ("status",)
    raw_id_fields = ("use_case", "model", "successor")


@admin.register(ConformanceFlag)
class ConformanceFlagAdmin(admin.ModelAdmin):
    list_display = ("use_case", "kind", "key", "first_seen", "cleared_at")
    list_filter = ("kind",)
    raw_id_fields = ("use_case",)


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("use_case", "workload", "candidate_model", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("use_case", "candidate_model", "started_by", "runs")
