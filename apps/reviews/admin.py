from django.contrib import admin

from .models import Comment, Decision


class ReadOnlyAdmin(admin.ModelAdmin):
    """The review record is append-only, in the admin too: view, never change."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("use_case", "outcome", "pattern", "decided_by", "created_at")
    list_filter = ("outcome", "pattern")


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ("use_case", "author", "internal", "created_at")
    list_filter = ("internal",)
