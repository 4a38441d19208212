"""The portal's roles (Django groups) and the permissions each one holds.

Groups are created by a migration; permissions are re-synced after every migrate so
that models added later by other apps reach the right roles.
"""

from django.db.models import TextChoices


class Role(TextChoices):
    REQUESTER = "requester", "Business owner"
    BOARD = "board", "Architecture board"
    PLATFORM = "platform", "ML platform"
    PROCUREMENT = "procurement", "Procurement"
    AUDITOR = "auditor", "Auditor"


# Roles that may read every use-case, whatever its team or classification.
READ_ALL_ROLES = frozenset({Role.BOARD, Role.PLATFORM, Role.PROCUREMENT, Role.AUDITOR})

# "app_label.codename"; codenames that do not exist (yet) are skipped.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REQUESTER: [
        "usecases.add_usecase",
        "usecases.change_usecase",
        "usecases.view_usecase",
        "playground.add_playgroundrun",
        "playground.view_playgroundrun",
        "playground.add_testset",
        "playground.change_testset",
        "playground.view_testset",
        "playground.add_testsetrun",
        "playground.view_testsetrun",
        "portfolio.view_budget",
    ],
    Role.BOARD: [
        "usecases.view_usecase",
        "usecases.review_usecase",
        "reviews.add_decision",
        "reviews.view_decision",
        "reviews.add_comment",
        "reviews.view_comment",
        "playground.add_playgroundrun",
        "playground.view_playgroundrun",
        "playground.add_testset",
        "playground.change_testset",
        "playground.view_testset",
        "playground.add_testsetrun",
        "playground.view_testsetrun",
        "catalogue.view_catalogmodel",
        "catalogue.view_gpuprofile",
        "framework.view_policy",
        "portfolio.add_budget",
        "portfolio.change_budget",
        "portfolio.delete_budget",
        "portfolio.view_budget",
    ],
    Role.PLATFORM: [
        "usecases.view_usecase",
        "catalogue.add_catalogmodel",
        "catalogue.change_catalogmodel",
        "catalogue.view_catalogmodel",
        "catalogue.add_gpuprofile",
        "catalogue.change_gpuprofile",
        "catalogue.view_gpuprofile",
        "framework.add_policy",
        "framework.view_policy",
        "endpoints.add_servingendpoint",
        "endpoints.change_servingendpoint",
        "endpoints.view_servingendpoint",
        "playground.add_playgroundrun",
        "playground.view_playgroundrun",
        "playground.add_testset",
        "playground.change_testset",
        "playground.view_testset",
        "playground.add_testsetrun",
        "playground.view_testsetrun",
        "accounts.add_apitoken",
        "accounts.change_apitoken",
        "accounts.view_apitoken",
        "portfolio.add_budget",
        "portfolio.change_budget",
        "portfolio.delete_budget",
        "portfolio.view_budget",
    ],
    Role.PROCUREMENT: [
        "usecases.view_usecase",
        "reviews.view_decision",
        "catalogue.view_catalogmodel",
        "catalogue.view_gpuprofile",
        "framework.view_policy",
        "endpoints.view_servingendpoint",
        "playground.view_playgroundrun",
        "playground.view_testset",
        "playground.view_testsetrun",
        # Their own read-only tokens only (accounts.services.check_token_issue).
        "accounts.add_apitoken",
        "portfolio.view_budget",
    ],
    Role.AUDITOR: [
        "usecases.view_usecase",
        "usecases.view_audit_trail",
        "reviews.view_decision",
        "reviews.view_comment",
        "catalogue.view_catalogmodel",
        "catalogue.view_gpuprofile",
        "framework.view_policy",
        "endpoints.view_servingendpoint",
        "playground.view_playgroundrun",
        "playground.view_testset",
        "playground.view_testsetrun",
        # Their own read-only tokens only (accounts.services.check_token_issue).
        "accounts.add_apitoken",
        "accounts.view_apitoken",
        "portfolio.view_budget",
    ],
}


def sync_role_permissions(group_model, permission_model) -> None:  # type: ignore[no-untyped-def]
    """Create the role groups and give each the permissions listed above."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.extend(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)
