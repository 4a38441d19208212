"""Edit forms for catalogue models and GPU profiles, validated by the engine too."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms

from .models import HOSTING_CHOICES, PRICE_FIELDS, CatalogModel, GpuProfile


def _engine_errors(form: forms.Form, exc: Any, fallback: str) -> None:
    """Attach the engine's errors to the named field, or to `fallback` with its path."""
    for name, messages in exc.errors.items():
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(fallback, f"{name}: {message}")


def lifecycle_dates_problem(
    *,
    release: dt.date | None,
    deprecation: dt.date | None,
    retirement: dt.date | None,
) -> tuple[str, str] | None:
    """(field, message) when the lifecycle dates are out of order, else None."""
    if release and deprecation and deprecation < release:
        return "deprecation_date", "A model is deprecated after its release."
    if deprecation and retirement and retirement < deprecation:
        return "retirement_date", "A model retires on or after its deprecation."
    if release and retirement and retirement < release:
        return "retirement_date", "A model retires after its release."
    return None
def price_label(name: str) -> str:
    """ "long_context_cached_input_usd_per_mtok" -> "Long-context cached input
    price, USD per million tokens" (the field names are terse, the page is not)."""
    words = name.removesuffix("_usd_per_mtok").replace("long_context", "long-context")
    return f"{words.replace('_', ' ').capitalize()} price, USD per million tokens"


class CatalogModelForm(forms.ModelForm):
    hosting = forms.MultipleChoiceField(
        choices=HOSTING_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        max_length=100,
        required=False,
        help_text="Why it changed (kept in the history), e.g. “price cut 1 Dec”.",
    )

    class Meta:
        model = CatalogModel
        fields = [
            "key",
            "name",
            "provider",
            "open_weights",
            "capability_tier",
            "context_window",
            "hosting",
            *PRICE_FIELDS,
            "hosted_by",
            "price_source",
            "price_date",
            "release_date",
            "status",
            "deprecation_date",
            "retirement_date",
            "family",
            "successor",
            "params_b",
            "precision",
            "gpu_profile",
            "litellm_key",
            "active",
        ]
        widgets = {
            "price_source": forms.Textarea(attrs={"rows": 2}),
            "price_date": forms.DateInput(attrs={"type": "date"}),
            "deprecation_date": forms.DateInput(attrs={"type": "date"}),
            "release_date": forms.DateInput(attrs={"type": "date"}),
            "retirement_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The key is what assessments and imports refer to: fixed once made.
            self.fields["key"].disabled = True
            self.fields["successor"].queryset = CatalogModel.objects.exclude(
                pk=self.instance.pk
            )
        # Older forms and scripts post no status: keep the stored one (GA if new).
        self.fields["status"].required = False
        for name in PRICE_FIELDS:
            if name in self.fields and name.endswith("_usd_per_mtok"):
                self.fields[name].label = price_label(name)

    def clean_status(self) -> str:
        return (
            self.cleaned_data.get("status")
            or self.instance.status
            or CatalogModel.LifecycleStatus.GA
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        lifecycle_problem = lifecycle_dates_problem(
            release=data.get("release_date"),
            deprecation=data.get("deprecation_date"),
            retirement=data.get("retirement_date"),
        )
        if lifecycle_problem:
            self.add_error(*lifecycle_problem)
            return data
        from apps.framework.engine import InputError, ModelSpec

        candidate = CatalogModel(
            **{
                name: value
                for name, value in data.items()
                if name not in {"reason", "gpu_profile", "successor"}
            }
        )
        candidate.gpu_profile = data.get("gpu_profile")
        try:
            ModelSpec.from_dict(candidate.as_engine_dict())
        except InputError as exc:
            _engine_errors(self, exc, "hosting")
        return data


class GpuProfileForm(forms.ModelForm):
    sizes = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text=(
            "A list of serving sizes: max_params_b, gpus_per_replica, "
            "prefill_tokens_per_s, decode_tokens_per_s, slo_efficiency (0 to 1), "
            "optional kv_capacity_tokens and source."
        ),
    )
    reason = forms.CharField(max_length=100, required=False)

    class Meta:
        model = GpuProfile
        fields = [
            "key",
            "name",
            "gpu",
            "memory_gb",
            "usd_per_gpu_hour",
            "provider",
            "provisioning",
            "price_source",
            "price_date",
            "sizes",
            "is_default",
        ]
        widgets = {
            "price_source": forms.Textarea(attrs={"rows": 2}),
            "price_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["key"].disabled = True
        self.fields["sizes"].widget.format_value = lambda value: (  # type: ignore[method-assign]
            value if isinstance(value, str) else json.dumps(value, indent=2)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        from apps.framework.engine import GpuProfile as EngineGpuProfile
        from apps.framework.engine import InputError

        candidate = GpuProfile(**{k: v for k, v in data.items() if k != "reason"})
        try:
            EngineGpuProfile.from_dict(candidate.as_engine_dict())
        except InputError as exc:
            _engine_errors(self, exc, "sizes")
        return data
