from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.roles import Role
from apps.core.events import EventKind

from .models import Subscription
from .services import target_problem

SUBSCRIPTION_FIELDS = ["name", "channel", "event_kinds", "team", "role", "enabled"]


def scope_problem(*, team: object, role: str) -> str | None:
    """A requester channel without a team would hear of every team's use-cases."""
    if role == Role.REQUESTER and team is None:
        return "A channel for requesters must name their team."
    return None


class SubscriptionForm(forms.ModelForm):
    """Adds or edits a subscription; the target and secret are write-only."""

    event_kinds = forms.MultipleChoiceField(
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    target = forms.CharField(
        required=False,
        strip=True,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="E-mail addresses (comma-separated) or the webhook URL. Stored "
        "encrypted, never shown; leave blank to keep the current one.",
    )
    secret = forms.CharField(
        required=False,
        strip=True,
        min_length=16,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Signed webhooks only: the HMAC key the receiver verifies with "
        "(at least 16 characters). Leave blank to keep the current one.",
    )

    class Meta:
        model = Subscription
        fields = SUBSCRIPTION_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        instance = self.instance
        channel = data.get("channel")
        target = data.get("target", "")
        problem = scope_problem(team=data.get("team"), role=data.get("role", ""))
        if problem:
            self.add_error("role", problem)
        changed_channel = instance.pk and channel != instance.channel
        if channel and not target and (not instance.pk or changed_channel):
            self.add_error("target", "Give where to deliver.")
        elif channel and target:
            problem = target_problem(channel=channel, target=target)
            if problem:
                self.add_error("target", problem)
        needs_secret = channel == Subscription.Channel.WEBHOOK and not (
            instance.has_secret and not changed_channel
        )
        if needs_secret and not data.get("secret") and "secret" not in self.errors:
            self.add_error("secret", "A signed webhook needs a secret.")
        return data

    def subscription_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in SUBSCRIPTION_FIELDS}
