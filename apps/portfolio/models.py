"""Budgets: a monthly amount for a team or a use-case, watched against its forecast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from apps.accounts.models import Team
from apps.usecases.models import UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User


class BudgetQuerySet(models.QuerySet["Budget"]):
    def visible_to(self, user: User) -> BudgetQuerySet:
        """Every budget for those who read everything; a requester's team's otherwise.

        A requester sees their team's budget and the budgets of the use-cases in
        their portfolio (their team's and their own that they may read).
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        mine = Q(owner=user)
        if user.team_id:
            mine |= Q(team_id=user.team_id)
        use_cases = UseCase.objects.visible_to(user).filter(mine).values("pk")
        rule = Q(use_case__in=use_cases)
        if user.team_id:
            rule |= Q(team_id=user.team_id)
        return self.filter(rule)

    def for_list(self) -> BudgetQuerySet:
        return self.select_related("team", "use_case", "use_case__team")


class Budget(models.Model):
    """A monthly spend limit for one team or one use-case (exactly one of them).

    Spend is compared with it every day: spend so far this month plus the daily
    run-rate over the days left; a forecast above the amount raises an alert.
    """

    team = models.OneToOneField(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    use_case = models.OneToOneField(
        UseCase, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text="USD a month.",
    )
    class Enforcement(models.TextChoices):
        SOFT = "soft", "Soft: warn"
        HARD = "hard", "Hard: refuse gateway requests"

    enforcement = models.CharField(
        max_length=4,
        choices=Enforcement.choices,
        default=Enforcement.SOFT,
        help_text="Hard: the gateway refuses requests once month-to-date spend "
        "reaches the amount; soft: it adds a warning header.",
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BudgetQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(team__isnull=False) & Q(use_case__isnull=True))
                | (Q(team__isnull=True) & Q(use_case__isnull=False)),
                name="budget_for_team_or_use_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope_label}: ${self.monthly_amount:,.2f} a month"

    @property
    def scope(self) -> str:
        return "team" if self.team_id else "use_case"

    @property
    def scope_label(self) -> str:
        if self.team_id:
            return f"Team {self.team}"
        return f"Use-case {self.use_case}"


class BudgetAlert(models.Model):
    """A budget's forecast passing its amount, recorded once per budget and month."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    month = models.DateField(help_text="The first day of the month.")
    forecast = models.DecimalField(max_digits=16, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "month"], name="budget_alert_once_a_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.budget_id} {self.month:%Y-%m}"


class SavedPlan(models.Model):
    """A portfolio plan the board kept as evidence: the scenario and what it gave.

    Immutable once saved: the JSON is the planner's answer at the time, with the
    policy version and price snapshot it used, so later catalogue or policy
    changes never rewrite what the board looked at.
    """

    name = models.CharField(max_length=200)
    note = models.TextField(blank=True)
    scenario = models.JSONField(default=dict)
    live_usage = models.BooleanField(default=False)
    result = models.JSONField(default=dict)
    monthly_cost = models.DecimalField(max_digits=16, decimal_places=2)
    standalone_monthly_cost = models.DecimalField(max_digits=16, decimal_places=2)
    saving = models.DecimalField(max_digits=16, decimal_places=2)
    gpus = models.PositiveIntegerField(default=0)
    pools = models.PositiveIntegerField(default=0)
    use_cases = models.PositiveIntegerField(default=0)
    policy_version = models.CharField(max_length=100, blank=True)
    price_snapshot = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("A saved plan is evidence and is never changed.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]
