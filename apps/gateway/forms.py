from __future__ import annotations

from django import forms

# Keep limits inside the columns (PositiveIntegerField) and within reason.
MAX_REQUESTS_PER_MINUTE = 1_000_000
MAX_TOKENS_PER_MINUTE = 1_000_000_000


class GatewayKeyForm(forms.Form):
    """Name, optional expiry and limits of a new key (the service checks the rest)."""

    name = forms.CharField(
        max_length=100,
        help_text="What calls with it, e.g. “claims-service production”.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: until revoked.",
    )
    requests_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_REQUESTS_PER_MINUTE,
        label="Requests a minute",
        help_text="Empty: no limit of its own.",
    )
    tokens_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TOKENS_PER_MINUTE,
        label="Tokens a minute",
        help_text="Empty: no limit of its own.",
    )
