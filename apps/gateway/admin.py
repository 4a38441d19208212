from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import keys
from .models import GatewayKey, GatewayRequestLog, GatewaySettings, GatewayUsage


@admin.register(GatewayKey)
class GatewayKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are issued on the use-case page or through the API.

    A key added here would have no secret anyone saw; revocation is an action so
    that it is audited like everywhere else.
    """

    list_display = (
        "name",
        "prefix",
        "use_case",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("revoked_at",)
    list_select_related = ("use_case",)
    search_fields = ("name", "prefix", "use_case__title")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: GatewayKey | None = None
    ) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[GatewayKey]) -> None:
        revoked = sum(
            keys.revoke_gateway_key(key=key, by=request.user)  # type: ignore[arg-type]
            for key in queryset.select_related("use_case")
        )
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


@admin.register(GatewaySettings)
class GatewaySettingsAdmin(admin.ModelAdmin):
    list_display = ("use_case", "log_requests")
    list_select_related = ("use_case",)


@admin.register(GatewayUsage)
class GatewayUsageAdmin(admin.ModelAdmin):
    list_display = (
        "request_id",
        "use_case",
        "endpoint",
        "model",
        "bucket_start",
        "input_tokens",
        "output_tokens",
        "estimated",
    )
    list_select_related = ("use_case", "endpoint")

    def has_change_permission(
        self, request: HttpRequest, obj: GatewayUsage | None = None
    ) -> bool:
        return False


@admin.register(GatewayRequestLog)
class GatewayRequestLogAdmin(admin.ModelAdmin):
    list_display = ("request_id", "use_case", "at", "model", "status", "latency_ms")
    list_select_related = ("use_case",)

    def has_change_permission(
        self, request: HttpRequest, obj: GatewayRequestLog | None = None
    ) -> bool:
        return False
