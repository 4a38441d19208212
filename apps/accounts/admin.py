from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, Team, User


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
