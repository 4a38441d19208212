from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, Permission

    from .roles import sync_role_permissions

    sync_role_permissions(Group, Permission)


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions of models added by later apps exist only after migrate.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")
        from . import signals  # noqa: F401  (deactivation revokes tokens)
