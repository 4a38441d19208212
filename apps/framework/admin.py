from django.contrib import admin

from .models import Assessment, Policy


class ReadOnlyAdmin(admin.ModelAdmin):
    """Policies and assessments are append-only: the admin only shows them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ("label", "note", "created_at", "created_by")


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("use_case", "outcome", "monthly_cost", "trigger", "created_at")
    list_filter = ("outcome", "trigger")
