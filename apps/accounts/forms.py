from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from .models import ApiToken, User
from .roles import Role

# A token may act for someone else only when that account cannot change anything:
# otherwise platform could mint itself a board member's or a requester's powers.
READ_ONLY_ROLES = (Role.PROCUREMENT, Role.AUDITOR)
WRITING_ROLES = (Role.REQUESTER, Role.BOARD, Role.PLATFORM)


def token_subjects(issuer: User) -> Any:
    """Accounts a token issued by `issuer` may act as: itself, or read-only accounts."""
    read_only = Q(groups__name__in=READ_ONLY_ROLES) & ~Q(
        pk__in=User.objects.filter(groups__name__in=WRITING_ROLES).values("pk")
    )
    return (
        User.objects.filter(is_active=True, is_superuser=False)
        .filter(Q(pk=issuer.pk) | read_only)
        .distinct()
        .order_by("username")
    )


EXPIRY_CHOICES = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (180, "180 days"),
    (365, "1 year"),
]


class ApiTokenForm(forms.Form):
    """A token for one tool; it acts as the chosen (non-superuser) account."""

    name = forms.CharField(
        label="Tool",
        max_length=100,
        help_text="What will use it, e.g. “procurement-sync”.",
    )
    user = forms.ModelChoiceField(
        label="Acts as",
        queryset=User.objects.none(),  # set per issuer in __init__
        help_text=(
            "The token has this account's roles and sees what it sees: yourself, "
            "or a read-only (procurement or auditor) account."
        ),
    )
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        widget=forms.RadioSelect,
    )
    days = forms.TypedChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        coerce=int,
        initial=90,
    )

    def __init__(self, *args: Any, issuer: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = token_subjects(issuer)
        self.fields["user"].initial = issuer.pk
