"""Forms of the playground pages; the API has its own serializers over the same services."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import DataClassification, SpecialCategory, UseCase

from .access import evidence_use_cases
from .checks import CheckKind, check_problem
from .guard import DataDeclaration
from .models import MAX_COLUMNS, TestInput, TestSet
from .services import TargetKey, UnknownTarget, parse_target


class TargetsMixin:
    """Up to four ``target`` values (``"<endpoint id>:<model>"``), blanks ignored."""

    data: Any

    def clean_targets(self) -> list[TargetKey]:
        values = [v for v in self.data.getlist("target") if v.strip()]
        if not values:
            raise forms.ValidationError("Choose at least one model.")
        if len(values) > MAX_COLUMNS:
            raise forms.ValidationError(f"Choose at most {MAX_COLUMNS} models.")
        try:
            return [parse_target(v) for v in values]
        except UnknownTarget as exc:
            raise forms.ValidationError(str(exc)) from None


class DataProfileForm(forms.Form):
    """The data guard's input: a use-case whose profile decides, or a declaration."""

    use_case = forms.ModelChoiceField(
        queryset=UseCase.objects.none(),
        required=False,
        empty_label="None: I state the data below",
        help_text="Its data profile decides where the prompt may go.",
    )
    data_classification = forms.ChoiceField(
        choices=DataClassification.choices,
        required=False,
        widget=forms.RadioSelect,
        label="Data classification of what you type",
    )
    special_categories = forms.MultipleChoiceField(
        choices=SpecialCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    must_stay_in_infrastructure = forms.BooleanField(
        required=False, label="Must stay in our infrastructure"
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only when shown or used: a run with stated data needs no use-case query.
        if not self.is_bound or self.data.get(self.add_prefix("use_case")):
            self.fields["use_case"].queryset = UseCase.objects.visible_to(
                user
            ).order_by("title")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("use_case") and not data.get("data_classification"):
            raise forms.ValidationError(
                "State the data classification of what you type, or pick a use-case."
            )
        return data

    def declaration(self) -> DataDeclaration:
        """The declaration; unstated when the form is invalid (nothing may leave)."""
        data = getattr(self, "cleaned_data", {}) or {}
        use_case = data.get("use_case")
        if use_case is not None:
            return DataDeclaration.of_use_case(use_case)
        return DataDeclaration(
            classification=data.get("data_classification") or "",
            special_categories=tuple(data.get("special_categories") or ()),
            must_stay_in_infrastructure=bool(data.get("must_stay_in_infrastructure")),
        )


class RunForm(TargetsMixin, DataProfileForm):
    system_prompt = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2})
    )
    prompt = forms.CharField(
        max_length=50_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0.7)
    max_tokens = forms.IntegerField(min_value=1, max_value=8192, initial=512)
    targets = forms.Field(required=False, widget=forms.HiddenInput)

    field_order = ["system_prompt", "prompt", "temperature", "max_tokens"]


class AttachForm(forms.Form):
    use_case = forms.ModelChoiceField(
        queryset=UseCase.objects.none(),
        error_messages={
            "invalid_choice": "Choose a use-case you own (or, on the board, review)."
        },
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["use_case"].queryset = evidence_use_cases(user).order_by("title")


class TestSetForm(forms.ModelForm):
    __test__ = False

    class Meta:
        model = TestSet
        fields = ["name", "system_prompt", "temperature", "max_tokens"]
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 2})}


class TestInputForm(forms.ModelForm):
    __test__ = False

    class Meta:
        model = TestInput
        fields = ["prompt", "check_kind", "expected"]
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 2}),
            "expected": forms.TextInput(),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problem = check_problem(data.get("check_kind", ""), data.get("expected", ""))
        if problem:
            self.add_error("expected", problem)
        return data


class TestSetJudgeForm(forms.ModelForm):
    """Where the LLM judge of the test set's `judge` checks runs."""

    __test__ = False

    class Meta:
        model = TestSet
        fields = ["judge_endpoint", "judge_model"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["judge_endpoint"].queryset = ServingEndpoint.objects.filter(
            chat_capable=True
        ).order_by("-location", "name")
        self.fields["judge_endpoint"].required = True
        self.fields["judge_model"].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        from .judge import judge_endpoint_problem

        problem = judge_endpoint_problem(
            use_case=self.instance.use_case,
            endpoint=data.get("judge_endpoint"),
            model=data.get("judge_model", ""),
        )
        if problem:
            self.add_error("judge_endpoint", problem)
        return data


class TestSetRunForm(TargetsMixin, forms.Form):
    __test__ = False
    targets = forms.Field(required=False, widget=forms.HiddenInput)


__all__ = [
    "AttachForm",
    "CheckKind",
    "DataProfileForm",
    "RunForm",
    "TestInputForm",
    "TestSetForm",
    "TestSetRunForm",
]
