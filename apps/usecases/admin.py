from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Transition, UseCase, Workload


class WorkloadInline(admin.TabularInline):
    model = Workload
    extra = 0


@admin.register(UseCase)
class UseCaseAdmin(SimpleHistoryAdmin):
    list_display = ("title", "team", "owner", "status", "data_classification")
    list_filter = ("status", "team", "data_classification")
    search_fields = ("title", "description")
    inlines = [WorkloadInline]

    # Use-cases are retired, never deleted: their audit trail must survive.
    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Transition)
class TransitionAdmin(admin.ModelAdmin):
    list_display = ("use_case", "from_status", "to_status", "actor", "created_at")

    # The lifecycle record is append-only, in the admin too.
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
