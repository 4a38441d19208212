from __future__ import annotations

from typing import Any

from django import forms

from .models import ApiToken, User
from .services import TokenRefused, check_token_issue, token_scopes_for

EXPIRY_CHOICES = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (180, "180 days"),
    (365, "1 year"),
]


class ApiTokenForm(forms.Form):
    """A token for one tool; it acts as the person issuing it, never anyone else."""

    name = forms.CharField(
        label="Tool",
        max_length=100,
        help_text="What will use it, e.g. “procurement-sync”.",
    )
    user = forms.ModelChoiceField(
        label="Acts as",
        queryset=User.objects.none(),  # the issuer alone, set in __init__
        help_text=(
            "The token has your roles and sees what you see. Someone else's token is "
            "issued by that person, signed in as themselves."
        ),
        error_messages={
            "invalid_choice": "A token acts only for the person who issues it: "
            "that account's owner issues its tokens.",
        },
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
        self.issuer = issuer
        # Superusers' tokens come from the command line: no choice here.
        self.fields["user"].queryset = User.objects.filter(
            pk=issuer.pk, is_active=True, is_superuser=False
        )
        self.fields["user"].initial = issuer.pk
        scopes = token_scopes_for(issuer)
        self.fields["scope"].choices = [
            choice for choice in ApiToken.Scope.choices if choice[0] in scopes
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        subject, scope = cleaned.get("user"), cleaned.get("scope")
        if subject is not None and scope is not None:
            try:
                check_token_issue(issuer=self.issuer, subject=subject, scope=scope)
            except TokenRefused as exc:
                self.add_error(None, str(exc))
        return cleaned
