from django.contrib import admin

from .models import DailyUsage, EndpointMapping, PollEvent, ServingEndpoint, UsageSample


class MappingInline(admin.TabularInline):
    model = EndpointMapping
    extra = 0
    autocomplete_fields = ()


@admin.register(ServingEndpoint)
class ServingEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "location", "enabled", "health", "last_success_at")
    list_filter = ("kind", "location", "health", "enabled")
    search_fields = ("name", "base_url")
    # The ciphertext is not editable here; keys are set through the portal's form.
    exclude = ("api_key_encrypted", "claim_token")
    readonly_fields = (
        "health",
        "last_polled_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "collected_until",
    )
    inlines = [MappingInline]


@admin.register(UsageSample)
class UsageSampleAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "series", "bucket_start", "requests", "cost")
    list_filter = ("endpoint", "measure")
    list_select_related = ("endpoint",)


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    list_display = ("date", "endpoint", "use_case", "model", "requests", "cost")
    list_filter = ("endpoint", "vendor")
    list_select_related = ("endpoint", "use_case")


@admin.register(PollEvent)
class PollEventAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "created_at", "ok", "message")
    list_filter = ("ok", "endpoint")
