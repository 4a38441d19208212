from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Team
from apps.usecases.models import UseCase

from .models import EndpointMapping, ServingEndpoint

ENDPOINT_FIELDS = [
    "name",
    "kind",
    "base_url",
    "location",
    "enabled",
    "poll_interval_seconds",
    "hourly_cost",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "vendor",
    "chat_capable",
]


class EndpointForm(forms.ModelForm):
    """Registers or edits an endpoint; the API key is write-only (blank keeps it).

    The base URL is checked by the model's validation (the SSRF guard), as in the
    admin, so every form that saves an endpoint refuses the same URLs.
    """

    api_key = forms.CharField(
        required=False,
        strip=True,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: stored encrypted, never shown. Leave blank to keep "
        "the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")

    class Meta:
        model = ServingEndpoint
        fields = ENDPOINT_FIELDS
        help_texts = {
            "base_url": "Where the endpoint answers, e.g. http://vllm-8b.internal:8000. "
            "Link-local and cloud metadata addresses are refused; private ones "
            "only when the platform allows their network.",
            "poll_interval_seconds": "How often usage is collected (at least 15 s).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("location") == ServingEndpoint.Location.IN_HOUSE and data.get(
            "kind"
        ) in ("openai", "anthropic"):
            self.add_error("location", "OpenAI and Anthropic endpoints are external.")
        return data

    def endpoint_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ENDPOINT_FIELDS}


class MappingForm(forms.ModelForm):
    """What part of an endpoint's traffic belongs to which use-case (or team)."""

    class Meta:
        model = EndpointMapping
        fields = ["model_name", "project_id", "api_key_id", "use_case", "team"]
        labels = {
            "model_name": "Served model name",
            "project_id": "Project id",
            "api_key_id": "API key id",
        }

    def __init__(self, *args: Any, endpoint: ServingEndpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.fields["use_case"].queryset = UseCase.objects.order_by("title")
        self.fields["team"].queryset = Team.objects.all()
        self.fields["team"].help_text = "Defaults to the use-case's team."
        self.fields["model_name"].widget.attrs["list"] = "served-models"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("use_case") and not data.get("team"):
            raise forms.ValidationError("Map the traffic to a use-case or a team.")
        return data

    def mapping_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
