from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Team

from .models import SpecialCategory, TaskType, UseCase

HELP = {
    "title": "A short name people will recognise, e.g. “Claims triage assistant”.",
    "description": "What the AI does, for whom, and what happens with its answer.",
    "data_classification": (
        "Public: already published. Internal: everyday business data. Confidential: "
        "would harm us or customers if leaked (contracts, customer records). "
        "Restricted: the most sensitive data (health records, legal privilege, "
        "security); restricted data may not leave our infrastructure."
    ),
    "special_categories": (
        "Tick every kind the prompts or documents may contain. Health, government and "
        "Indigenous data stay in our infrastructure by policy (data sovereignty)."
    ),
    "must_stay_in_infrastructure": (
        "Tick if a contract, law or your own judgement says this data may not be sent "
        "to an outside provider. Either this answer or the policy can keep it in-house."
    ),
    "requests_per_day": "Calls to the model on an ordinary day once fully rolled out.",
    "avg_input_tokens": (
        "Prompt size per call: about ¾ of a word per token, so a page of text is about "
        "500 tokens. Include instructions and any documents pasted in."
    ),
    "avg_output_tokens": "Answer size per call: a short label is ~5, a paragraph ~150.",
    "peak_factor": "Busiest hour compared with the average hour (2 means twice as busy).",
    "capability_need": (
        "Standard: routine language tasks. Advanced: careful multi-step work. "
        "Frontier: needs the very best models available (top ~5%)."
    ),
    "context_tokens": "The largest prompt plus answer one call will ever need, in tokens.",
    "mlops_readiness": "Can your team (or the platform team for you) run GPU services?",
    "horizon": "How long this capability is meant to last.",
    "fine_tuning_data": (
        "We have labelled examples of this task (hundreds or more) to fine-tune a model."
    ),
}

SECTIONS = [
    ("What it does", ["title", "description", "team"]),
    (
        "The data it touches",
        ["data_classification", "special_categories", "must_stay_in_infrastructure"],
    ),
    (
        "Expected volume",
        ["requests_per_day", "avg_input_tokens", "avg_output_tokens", "peak_factor"],
    ),
    ("Capability", ["capability_need", "context_tokens", "fine_tuning_data"]),
    ("Team and strategy", ["mlops_readiness", "horizon"]),
]


class UseCaseForm(forms.ModelForm):
    special_categories = forms.MultipleChoiceField(
        choices=SpecialCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=HELP["special_categories"],
    )

    class Meta:
        model = UseCase
        fields = [
            "title",
            "description",
            "team",
            "data_classification",
            "special_categories",
            "must_stay_in_infrastructure",
            "requests_per_day",
            "avg_input_tokens",
            "avg_output_tokens",
            "peak_factor",
            "capability_need",
            "context_tokens",
            "fine_tuning_data",
            "mlops_readiness",
            "horizon",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "data_classification": forms.RadioSelect,
            "capability_need": forms.RadioSelect,
            "mlops_readiness": forms.RadioSelect,
            "horizon": forms.RadioSelect,
        }
        help_texts = HELP

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = Team.objects.all()
        self._own_team = None
        if not user.is_superuser and user.team_id:
            # A requester files for their own team; the field only shows it.
            teams = teams.filter(pk=user.team_id)
            self._own_team = user.team
            self.fields["team"].initial = user.team_id
            self.fields["team"].required = False
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = None
        for name in ("data_classification", "mlops_readiness", "horizon"):
            self.fields[name].choices = [
                c for c in self.fields[name].choices if c[0] != ""
            ]
        self.fields["mlops_readiness"].label = "ML-ops readiness"

    def clean_team(self) -> Team | None:
        return self._own_team or self.cleaned_data.get("team")

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]


class WorkloadForm(forms.Form):
    task_type = forms.ChoiceField(
        choices=[("", "—"), *TaskType.choices],
        required=False,
        help_text="What the model does for this slice of the traffic.",
    )
    share = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        help_text="Per cent of the requests.",
    )
    notes = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("task_type") and not data.get("share"):
            self.add_error("share", "Give this workload's share of the requests.")
        if data.get("share") and not data.get("task_type"):
            self.add_error("task_type", "Pick the task type of this workload.")
        return data


class BaseWorkloadFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        rows = self.workloads()
        if not rows:
            raise forms.ValidationError("Add at least one workload.")
        total = sum(row["share"] for row in rows)
        if total != 100:
            raise forms.ValidationError(
                f"Workload shares add up to {total}%; they must add up to 100%."
            )

    def workloads(self) -> list[dict[str, Any]]:
        return [
            {
                "task_type": f.cleaned_data["task_type"],
                "share": f.cleaned_data["share"],
                "notes": f.cleaned_data.get("notes", ""),
            }
            for f in self.forms
            if f.cleaned_data.get("task_type") and f.cleaned_data.get("share")
        ]


def workload_formset(
    data: Any = None,
    *,
    use_case: UseCase | None = None,
    initial: list[dict[str, Any]] | None = None,
    extra: int = 0,
) -> BaseWorkloadFormSet:
    if initial is None:
        initial = (
            [
                {"task_type": w.task_type, "share": w.share, "notes": w.notes}
                for w in use_case.workloads.all()
            ]
            if use_case is not None and use_case.pk
            else [{"task_type": "", "share": 100}]
        )
    formset_class = forms.formset_factory(
        WorkloadForm,
        formset=BaseWorkloadFormSet,
        extra=extra,
        max_num=10,
        validate_max=True,
    )
    return formset_class(data, initial=initial, prefix="workloads")


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=UseCase.Status.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
