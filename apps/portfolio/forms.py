from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms

from apps.accounts.models import Team
from apps.usecases.models import UseCase

from .models import Budget
from .queries import DEFAULT_PERIOD, OUTCOME_LABELS, PERIODS, Filters
from .reconciliation import default_range

if TYPE_CHECKING:
    from apps.accounts.models import User


class PortfolioFilterForm(forms.Form):
    """The overview's filters; a value that is not offered is simply ignored."""

    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    outcome = forms.ChoiceField(required=False)
    period = forms.ChoiceField(choices=list(PERIODS.items()), required=False)

    def __init__(self, data: Any = None, *, user: User, **kwargs: Any) -> None:
        if data is not None and not data.get("period"):
            data = data.copy()
            data["period"] = DEFAULT_PERIOD  # so the select shows what is shown
        super().__init__(data, **kwargs)
        teams = Team.objects.order_by("name")
        if not user.reads_everything:
            teams = teams.filter(pk=user.team_id)
        self.fields["team"].queryset = teams
        self.fields["outcome"].choices = [
            ("", "All outcomes"),
            *OUTCOME_LABELS.items(),
        ]

    def filters(self) -> Filters:
        self.is_valid()  # an invalid field is left out of cleaned_data: ignored
        data = self.cleaned_data
        team = data.get("team")
        return Filters(
            team_id=team.pk if team else None,
            outcome=data.get("outcome") or None,
            period=data.get("period") or DEFAULT_PERIOD,
        )


def parse_month(value: str | None, *, today: date) -> date:
    """``YYYY-MM`` as the month's first day; this month when absent or invalid."""
    if value:
        try:
            year, month = (int(part) for part in value.split("-", 1))
            return date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


class BudgetForm(forms.ModelForm):
    """A monthly budget for exactly one team or one use-case."""

    class Meta:
        model = Budget
        fields = ["team", "use_case", "monthly_amount", "note"]
        help_texts = {
            "team": "A team's budget covers all its spend (choose a team or a "
            "use-case, not both).",
            "monthly_amount": "USD a month.",
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.order_by("name")
        self.fields["use_case"].queryset = (
            UseCase.objects.visible_to(user)
            .exclude(status=UseCase.Status.DRAFT)
            .select_related("team")
            .order_by("title")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("team")) == bool(data.get("use_case")):
            raise forms.ValidationError("Choose either a team or a use-case.")
        return data

    def fields_for_service(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class ReconciliationForm(forms.Form):
    """The reconciliation page's range and period; bad dates are field errors."""

    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(
        choices=[("day", "By day"), ("month", "By month")], required=False
    )

    #: The longest range one page may cover, as the API allows.
    MAX_DAYS = 3 * 366

    def __init__(self, data: Any = None, *, today: date, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or default_range(min(end, self.today))[0]
        if start > end:
            self.add_error("start", "Start is after end.")
        elif (end - start).days > self.MAX_DAYS:
            self.add_error("end", f"Ask for at most {self.MAX_DAYS} days at once.")
        data.update(start=start, end=end, period=data.get("period") or "day")
        return data
