"""The policy form: one field per engine Policy setting, validated by the engine."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django import forms

from .engine import DATA_CLASSIFICATIONS, SPECIAL_CATEGORIES, InputError
from .engine import Policy as EnginePolicy

LABELS: dict[str, tuple[str, str]] = {
    "volume_low": (
        "Low volume (requests a day)",
        "Below this, volume leans to a proprietary API.",
    ),
    "volume_high": (
        "High volume (requests a day)",
        "Above this, volume leans to open models; the cost model's break-even replaces both where the token profile is known.",
    ),
    "categories_that_may_not_leave": (
        "Special categories that may not leave",
        "Data in these categories must stay in our infrastructure.",
    ),
    "classifications_that_may_not_leave": ("Classifications that may not leave", ""),
    "very_large_context_tokens": (
        "Very large context (tokens)",
        "Above this, proprietary long-context models have a strong edge.",
    ),
    "close_call_margin": (
        "Close-call margin",
        "Relative distance to the break-even counted as a close call (0.15 = 15%).",
    ),
    "peak_factor_default": (
        "Default peak factor",
        "Busiest hour over the average hour, when the use-case gives none.",
    ),
    "target_utilisation": (
        "Target GPU utilisation",
        "0 to 1; replicas are sized to run at this share of capacity at peak.",
    ),
    "min_replicas": ("Minimum replicas", "For availability, whatever the traffic."),
    "gpu_overhead": (
        "GPU overhead",
        "Storage, network and idle share on top of GPU hours (0.10 = 10%).",
    ),
    "ops_fte_share": (
        "Operations share (FTE)",
        "People time to run one self-hosted service.",
    ),
    "ops_fte_share_without_mlops": (
        "Operations share without ML-ops (FTE)",
        "When data governance forces self-hosting on a team with no ML-ops.",
    ),
    "loaded_fte_cost": ("Loaded cost of one FTE (USD a year)", ""),
    "setup_cost": ("Set-up cost (USD)", "One-off, spread over the horizon."),
    "horizon_months_experiment": ("Experiment horizon (months)", ""),
    "horizon_months_production": ("Production horizon (months)", ""),
    "horizon_months_core": ("Core horizon (months)", ""),
    "days_per_month": ("Days a month", ""),
    "hours_per_month": ("Hours a month", ""),
    "slo_ttft_seconds": ("Latency SLO: time to first token (s)", ""),
    "slo_tpot_seconds": ("Latency SLO: time per output token (s)", ""),
}
CHOICES = {
    "categories_that_may_not_leave": SPECIAL_CATEGORIES,
    "classifications_that_may_not_leave": DATA_CLASSIFICATIONS,
}
SETTINGS = [f.name for f in fields(EnginePolicy) if f.name != "version"]


class PolicyForm(forms.Form):
    """Built from the engine's Policy dataclass, so a new setting appears here."""

    note = forms.CharField(
        max_length=300,
        required=False,
        label="Why this change",
        help_text="Kept with the new version and in the audit trail.",
    )

    def __init__(
        self, *args: Any, initial_policy: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for name in SETTINGS:
            label, help_text = LABELS.get(
                name, (name.replace("_", " ").capitalize(), "")
            )
            default = getattr(EnginePolicy(), name)
            if name in CHOICES:
                field: forms.Field = forms.MultipleChoiceField(
                    choices=[(c, c) for c in CHOICES[name]],
                    widget=forms.CheckboxSelectMultiple,
                    required=False,
                )
            elif isinstance(default, int):
                field = forms.IntegerField()
            else:
                field = forms.FloatField()
            field.label, field.help_text = label, help_text
            field.initial = initial_policy.get(name, default)
            self.fields[name] = field
        self.order_fields([*SETTINGS, "note"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.policy = EnginePolicy.from_dict(
                {name: data[name] for name in SETTINGS}
            )
        except InputError as exc:
            for name, messages in exc.errors.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return data

    def settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in SETTINGS}
