from __future__ import annotations

from django import forms

from .models import ApiToken, User

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
        queryset=User.objects.filter(is_active=True, is_superuser=False).order_by(
            "username"
        ),
        help_text="The token has this account's roles and sees what it sees.",
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
