from typing import Any

from django.apps import AppConfig


def _audit_sign_in_lockout(
    sender: Any, *, username: str, address: str, scope: str, until: float, **kwargs: Any
) -> None:
    # The audit trail lives here; accounts (to the left) only sends the signal.
    from datetime import UTC, datetime

    from django.contrib.auth import get_user_model

    from .models import AuditEvent

    actor = get_user_model().objects.filter(username=username).first()
    what = f"account “{username}”" if scope == "account" else f"address {address}"
    AuditEvent.record(
        kind="accounts.sign_in_locked",
        summary=f"Sign-in locked for {what} after repeated failed passwords.",
        actor=actor,
        data={
            "username": username,
            "address": address,
            "scope": scope,
            "until": datetime.fromtimestamp(until, tz=UTC).isoformat(),
        },
    )


def _audit_account_event(
    sender: Any, *, kind: str, summary: str, actor: Any, data: dict, **kwargs: Any
) -> None:
    # Single sign-on, deactivations (apps/accounts/signals.py): accounts announces.
    from .models import AuditEvent

    AuditEvent.record(kind=kind, summary=summary, actor=actor, data=data)


class UsecasesConfig(AppConfig):
    name = "apps.usecases"
    label = "usecases"

    def ready(self) -> None:
        from apps.accounts.throttle import sign_in_locked

        sign_in_locked.connect(
            _audit_sign_in_lockout, dispatch_uid="usecases.audit_sign_in_lockout"
        )
        from apps.accounts.signals import account_event

        account_event.connect(
            _audit_account_event, dispatch_uid="usecases.audit_account_event"
        )
