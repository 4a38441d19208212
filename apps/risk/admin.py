from django.contrib import admin

from .models import RiskAssessment, RiskPolicyVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: the admin only shows them (the policy page writes)."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(RiskPolicyVersion)
class RiskPolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("number", "note", "created_at", "created_by")


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "use_case",
        "number",
        "eu_ai_act_tier",
        "charter_risk",
        "created_at",
    )
    list_filter = ("eu_ai_act_tier", "charter_risk")
