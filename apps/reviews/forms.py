from __future__ import annotations

from django import forms

from .models import Decision, Pattern


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=Decision.Outcome.choices, widget=forms.RadioSelect
    )
    pattern = forms.ChoiceField(
        choices=[("", "—"), *Pattern.choices],
        required=False,
        help_text="Required to approve. Choosing other than the recommendation "
        "needs a reason.",
    )
    overrule_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Reason for overruling the recommendation",
    )
    chosen_models = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Models or endpoints",
        help_text="One a line: catalogue names or endpoints.",
    )
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One a line, e.g. “re-review at 50,000 requests a day”.",
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Message to the requester",
    )

    def clean_chosen_models(self) -> list[str]:
        return _lines(self.cleaned_data["chosen_models"])

    def clean_conditions(self) -> list[str]:
        return _lines(self.cleaned_data["conditions"])


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Mention with @username"}
        ),
        max_length=5000,
        label="Comment",
    )
    internal = forms.BooleanField(
        required=False, label="Board-internal note (hidden from the requester)"
    )
