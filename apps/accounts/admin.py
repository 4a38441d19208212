from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, IdpGroupMapping, OidcIdentity, Team, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Portal", {"fields": ("team",)}))
    list_display = ("username", "email", "team", "is_staff")
    list_filter = ("team", "groups", "is_staff")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "scope", "key_prefix", "expires_at", "revoked_at")
    readonly_fields = ("key_prefix", "key_hash", "last_used_at", "created_at")


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Who signs in through which provider subject; links are made by sign-in only."""

    list_display = ("user", "subject", "issuer", "last_sign_in_at")
    search_fields = ("user__username", "subject")
    readonly_fields = ("user", "issuer", "subject", "created_at", "last_sign_in_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(IdpGroupMapping)
class IdpGroupMappingAdmin(admin.ModelAdmin):
    """Groups mapped here add to OIDC_ROLE_MAP and OIDC_TEAM_MAP (docs/sign-in.md)."""

    list_display = ("group", "role", "team")
    list_filter = ("role", "team")
    search_fields = ("group",)
