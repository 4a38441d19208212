"""The guided risk questionnaire and the stage decision form."""

from __future__ import annotations

from typing import Any

from django import forms

from . import rules
from .models import StageDecision

PRINCIPLE_HELP = {
    "rangatiratanga": "Authority: who controls access to and use of the data, and "
    "how Māori exercise that control.",
    "whakapapa": "Relationships: the data's provenance and context, and how it is "
    "kept with the data.",
    "whanaungatanga": "Obligations: how the use benefits the people the data is "
    "about, and how it is reported back.",
    "kotahitanga": "Collective benefit: how Māori share in the capability and its "
    "benefits.",
    "manaakitanga": "Reciprocity: how the dignity of the people is respected, and "
    "harm from outputs avoided.",
    "kaitiakitanga": "Guardianship: who the kaitiaki are, and how the data is kept "
    "safe, including where it is stored.",
}
HOSTING_CHOICES = [
    ("", "—"),
    ("in_house", "In our own infrastructure"),
    ("aotearoa", "A provider in Aotearoa New Zealand"),
    ("overseas", "Overseas"),
]


def _choices(table: dict[str, str]) -> list[tuple[str, str]]:
    return list(table.items())


class RiskAssessmentForm(forms.Form):
    """Field names are flat; `answers()` nests the sovereignty ones for the rules,
    and `add_rule_errors()` puts the rules' dotted errors back on the fields."""

    prohibited_practices = forms.MultipleChoiceField(
        choices=_choices(rules.PROHIBITED_PRACTICES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Does it do any of these? (EU AI Act, Art. 5)",
        help_text="Any of these is prohibited: such a use-case cannot be approved.",
    )
    high_risk_areas = forms.MultipleChoiceField(
        choices=_choices(rules.HIGH_RISK_AREAS),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Is it used in any of these areas? (Annex III)",
        help_text="Any of these makes it high-risk: the legal stage reviews it.",
    )
    transparency = forms.MultipleChoiceField(
        choices=_choices(rules.TRANSPARENCY_DUTIES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Transparency (Art. 50)",
        help_text="People must be told they are dealing with AI.",
    )
    charter_likelihood = forms.ChoiceField(
        choices=[("", "—"), *((v, v.capitalize()) for v in rules.LIKELIHOODS)],
        required=False,
        label="Likelihood of unintended adverse outcomes (Algorithm Charter)",
        help_text="Probable: often in normal use. Occasional: some time in normal "
        "use. Improbable: unlikely but possible.",
    )
    charter_impact = forms.ChoiceField(
        choices=[("", "—"), *((v, v.capitalize()) for v in rules.IMPACTS)],
        required=False,
        label="Impact of those outcomes",
        help_text="High: widespread or serious. Moderate: a moderate number of "
        "people or moderate severity. Low: isolated and not serious.",
    )
    pia_reference = forms.CharField(
        required=False,
        max_length=200,
        label="Privacy impact assessment",
        help_text="Reference or link to the PIA (required for personal or health "
        "information: Privacy Act 2020; Health Information Privacy Code 2020).",
    )
    impact_assessment_reference = forms.CharField(
        required=False,
        max_length=200,
        label="AI impact assessment (ISO/IEC 42001 A.5)",
    )
    data_provenance = forms.CharField(
        required=False,
        max_length=500,
        label="Data provenance and quality (A.7)",
    )
    monitoring_plan = forms.CharField(
        required=False,
        max_length=500,
        label="Monitoring and verification plan (A.6)",
    )
    third_party_terms = forms.CharField(
        required=False,
        max_length=500,
        label="Supplier and hosting terms (A.10)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for principle in rules.PRINCIPLES:
            self.fields[f"sovereignty_{principle}"] = forms.CharField(
                required=False,
                max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
                label=principle.capitalize(),
                help_text=PRINCIPLE_HELP[principle],
            )
        for key, label in rules.SOVEREIGNTY_EVIDENCE.items():
            if key in ("data_hosting", "model_hosting"):
                field: forms.Field = forms.ChoiceField(
                    choices=HOSTING_CHOICES, required=False, label=label
                )
            else:
                field = forms.CharField(required=False, max_length=300, label=label)
            self.fields[f"evidence_{key}"] = field

    def principle_fields(self) -> list[forms.BoundField]:
        return [self[f"sovereignty_{p}"] for p in rules.PRINCIPLES]

    def evidence_fields(self) -> list[forms.BoundField]:
        return [self[f"evidence_{k}"] for k in rules.SOVEREIGNTY_EVIDENCE]

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        flat = {
            name: data.get(name, "")
            for name in self.base_fields
            if not name.startswith(("sovereignty_", "evidence_"))
        }
        flat["sovereignty"] = {
            p: data.get(f"sovereignty_{p}", "") for p in rules.PRINCIPLES
        }
        flat["sovereignty_evidence"] = {
            k: data.get(f"evidence_{k}", "") for k in rules.SOVEREIGNTY_EVIDENCE
        }
        return flat

    @classmethod
    def initial_from(cls, answers: dict[str, Any]) -> dict[str, Any]:
        initial = {k: v for k, v in answers.items() if not isinstance(v, dict)}
        for p, value in (answers.get("sovereignty") or {}).items():
            initial[f"sovereignty_{p}"] = value
        for k, value in (answers.get("sovereignty_evidence") or {}).items():
            initial[f"evidence_{k}"] = value
        return initial

    def add_rule_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = name.replace("sovereignty_evidence.", "evidence_").replace(
                "sovereignty.", "sovereignty_"
            )
            self.add_error(field if field in self.fields else None, messages)


class StageDecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=StageDecision.Outcome.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject or ask for changes.",
    )
    evidence = forms.CharField(
        required=False,
        max_length=500,
        help_text="What you checked, e.g. the PIA or the data agreement.",
    )
