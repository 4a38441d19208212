"""What the portfolio pages and API read.

Everything here reads the rollups, never the raw samples, and issues a fixed number
of queries whatever the number of use-cases, days or samples: grouped aggregates,
merged in Python. A period is read as its whole calendar months from the monthly
rollups (:class:`apps.endpoints.models.MonthlyUsage`) and its remaining days from
the daily ones (:class:`apps.endpoints.models.DailyUsage`), so a year costs about
what a month costs (:func:`split_period`).

Days are UTC days, as the rollups are.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, TruncMonth
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Team
from apps.endpoints.models import DailyUsage, MonthlyUsage
from apps.framework.models import Outcome, with_latest_assessment
from apps.reviews.models import Decision
from apps.usecases.models import UseCase

from .models import Budget

if TYPE_CHECKING:
    from apps.accounts.models import User

ZERO = Decimal(0)
CENT = Decimal("0.01")
#: The ledger's precision (``DecimalField(decimal_places=6)``): amounts leave the
#: queries exact; only display rounds them.
AMOUNT = Decimal("0.000001")
#: Days in an average month (the cost model's convention, DESIGN §4).
DAYS_A_MONTH = Decimal("30.42")
NOT_ASSESSED = "not_assessed"
OUTCOME_LABELS: dict[str, str] = {
    **{value: str(label) for value, label in Outcome.choices},
    NOT_ASSESSED: "Not assessed yet",
}
#: Use-cases that are not (or no longer) part of the portfolio's allocation.
OUTSIDE_ALLOCATION = (
    UseCase.Status.DRAFT,
    UseCase.Status.REJECTED,
    UseCase.Status.RETIRED,
)
PERIODS: dict[str, str] = {
    "month": "This month",
    "last_month": "Last month",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "6m": "Last 6 months",
    "12m": "Last 12 months",
}
DEFAULT_PERIOD = "6m"
#: Rows of the estimate-against-actual table shown on the page (CSV has all).
ESTIMATE_ROWS = 25
TOP_USE_CASES = 10
#: Days of spend the budget run-rate averages (full days before today).
RUN_RATE_DAYS = 7
#: A forecast above this share of the budget is a warning, above the budget an alert.
WARNING_RATIO = Decimal("0.9")


def exact(value: Decimal | float | int | str | None) -> Decimal:
    """A ledger amount as a six-place Decimal (SQLite may sum decimals to a float)."""
    return Decimal(str(value or 0)).quantize(AMOUNT)


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """First and last day (both included) of a named period ending today."""
    if period == "month":
        return month_start(today), today
    if period == "last_month":
        first = add_months(today, -1)
        return first, month_end(first)
    if period == "30d":
        return today - timedelta(days=29), today
    if period == "90d":
        return today - timedelta(days=89), today
    if period == "12m":
        return add_months(today, -11), today
    return add_months(today, -5), today  # "6m", the default


def months_between(start: date, end: date) -> list[date]:
    months, current = [], month_start(start)
    while current <= end:
        months.append(current)
        current = add_months(current, 1)
    return months


@dataclass(frozen=True, slots=True)
class Split:
    """A period as whole calendar months and the days left over at either end."""

    #: First days of the first and last whole month, or None when there is none.
    months: tuple[date, date] | None
    #: The other days, as inclusive (first, last) ranges: at most one at each end.
    days: tuple[tuple[date, date], ...]

    @property
    def month_q(self) -> Q:
        """Monthly rollup rows of the whole months (matches nothing without any)."""
        if self.months is None:
            return Q(pk__in=[])
        return Q(month__gte=self.months[0], month__lte=self.months[1])

    @property
    def day_q(self) -> Q:
        """Daily rollup rows of the leftover days (matches nothing without any)."""
        rule = Q(pk__in=[])
        for first, last in self.days:
            rule |= Q(date__gte=first, date__lte=last)
        return rule


def split_period(start: date, end: date) -> Split:
    """``start``..``end`` (inclusive) as whole months plus leftover days."""
    first = start if start.day == 1 else add_months(start, 1)
    last = month_start(end) if end == month_end(end) else add_months(end, -1)
    if first > last:
        return Split(months=None, days=((start, end),))
    days = []
    if start < first:
        days.append((start, first - timedelta(days=1)))
    if end > month_end(last):
        days.append((month_end(last) + timedelta(days=1), end))
    return Split(months=(first, last), days=tuple(days))


@dataclass(frozen=True, slots=True)
class Filters:
    """The overview's filters: a team, an outcome and a named period."""

    team_id: int | None = None
    outcome: str | None = None
    period: str = DEFAULT_PERIOD
    #: A calendar month (its first day) instead of the named period: the board pack.
    month: date | None = None

    def bounds(self, today: date) -> tuple[date, date]:
        if self.month is not None:
            return self.month, min(month_end(self.month), max(today, self.month))
        return period_bounds(self.period, today)

    @property
    def label(self) -> str:
        if self.month is not None:
            return self.month.strftime("%B %Y")
        return PERIODS.get(self.period, self.period)


# Which rows.


def portfolio_use_cases(user: User) -> QuerySet[UseCase]:
    """The use-cases of the user's portfolio.

    Those who read everything get every use-case; a requester gets their team's
    and their own, and only those `UseCase.objects.visible_to` lets them read.
    """
    visible = UseCase.objects.visible_to(user)
    if user.reads_everything:
        return visible
    mine = Q(owner=user)
    if user.team_id:
        mine |= Q(team_id=user.team_id)
    return visible.filter(mine)


def with_effective_outcome(use_cases: QuerySet[UseCase]) -> QuerySet[UseCase]:
    """Annotate ``effective_outcome``: the board's chosen pattern, else the framework's.

    Also ``latest_outcome`` and ``latest_monthly_cost`` (the latest assessment's).
    """
    from django.db.models import OuterRef, Subquery

    decided = (
        Decision.objects.filter(use_case=OuterRef("pk"))
        .exclude(pattern="")
        .order_by("-created_at", "-pk")
        .values("pattern")[:1]
    )
    return with_latest_assessment(use_cases).annotate(
        decided_pattern=Subquery(decided),
        effective_outcome=Coalesce(Subquery(decided), "latest_outcome"),
    )


def scoped_usage(
    user: User,
    filters: Filters | None = None,
    *,
    rollup: type[DailyUsage] | type[MonthlyUsage] = DailyUsage,
) -> QuerySet[Any]:
    """Daily (or monthly) rollups the user may read, narrowed by team and outcome.

    Spend belongs to the team of the endpoint mapping (the use-case's team unless
    the mapping names another); rows without a use-case (idle self-hosted capacity,
    team-level mappings) are read only by those who read everything.
    """
    rows = rollup.objects.all()
    if not user.reads_everything:
        rows = rows.filter(use_case__in=portfolio_use_cases(user).values("pk"))
    if filters is None:
        return rows
    if filters.team_id:
        rows = rows.filter(team_id=filters.team_id)
    if filters.outcome:
        use_cases = with_effective_outcome(portfolio_use_cases(user))
        if filters.outcome == NOT_ASSESSED:
            use_cases = use_cases.filter(effective_outcome__isnull=True)
        else:
            use_cases = use_cases.filter(effective_outcome=filters.outcome)
        rows = rows.filter(use_case__in=use_cases.values("pk"))
    return rows


def filtered_use_cases(user: User, filters: Filters) -> QuerySet[UseCase]:
    use_cases = with_effective_outcome(portfolio_use_cases(user))
    if filters.team_id:
        use_cases = use_cases.filter(team_id=filters.team_id)
    if filters.outcome == NOT_ASSESSED:
        use_cases = use_cases.filter(effective_outcome__isnull=True)
    elif filters.outcome:
        use_cases = use_cases.filter(effective_outcome=filters.outcome)
    return use_cases


# What the overview shows.


@dataclass(slots=True)
class UseCaseRow:
    """One use-case's outcome, estimate and collected spend."""

    id: int
    title: str
    team: str
    status: str
    status_label: str
    outcome: str
    estimate: Decimal | None
    declared_requests_per_day: int
    flagged_at: Any = None
    flag_reason: str = ""
    period_cost: Decimal = ZERO
    period_requests: int = 0
    mtd_cost: Decimal = ZERO
    last30_cost: Decimal = ZERO

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @property
    def url(self) -> str:
        return reverse("usecases:detail", args=[self.id])

    @property
    def in_allocation(self) -> bool:
        return self.status not in OUTSIDE_ALLOCATION

    @property
    def gap(self) -> Decimal | None:
        """Collected spend over the last 30 days minus the monthly estimate."""
        if self.estimate is None:
            return None
        return self.last30_cost - self.estimate

    @property
    def period_gap(self) -> Decimal | None:
        """Spend collected in the period (a month, in the board pack) minus the estimate."""
        if self.estimate is None:
            return None
        return self.period_cost - self.estimate

    @property
    def gap_ratio(self) -> float | None:
        if self.estimate is None or not self.estimate:
            return None
        return float(self.last30_cost / self.estimate - 1)


@dataclass(frozen=True, slots=True)
class AllocationRow:
    outcome: str
    label: str
    use_cases: int
    requests_per_day: float
    declared_requests_per_day: int
    period_cost: Decimal
    monthly_spend: Decimal


@dataclass(frozen=True, slots=True)
class MonthlySeries:
    """Spend a month for each label (vendor or team), months in order."""

    months: list[date]
    series: list[tuple[str, list[Decimal]]]

    @property
    def month_totals(self) -> list[Decimal]:
        return [
            sum((values[i] for _, values in self.series), ZERO)
            for i in range(len(self.months))
        ]

    @property
    def totals(self) -> list[tuple[str, Decimal]]:
        return [(label, sum(values, ZERO)) for label, values in self.series]

    @property
    def total(self) -> Decimal:
        return sum(self.month_totals, ZERO)

    def rows(self) -> list[tuple[str, list[Decimal], Decimal]]:
        return [(label, values, sum(values, ZERO)) for label, values in self.series]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget this month: spent so far, run-rate, forecast to month end, alert."""

    budget: Budget
    spent: Decimal
    run_rate: Decimal
    days_left: int
    forecast: Decimal

    @property
    def amount(self) -> Decimal:
        return self.budget.monthly_amount

    @property
    def ratio(self) -> float | None:
        return float(self.forecast / self.amount) if self.amount else None

    @property
    def alert(self) -> bool:
        """The forecast to month end passes the budget."""
        return self.forecast > self.amount

    @property
    def exceeded(self) -> bool:
        return self.spent > self.amount

    @property
    def state(self) -> str:
        if self.alert:
            return "over"
        if self.amount and self.forecast >= self.amount * WARNING_RATIO:
            return "warning"
        return "ok"

    @property
    def headroom(self) -> Decimal:
        return self.amount - self.forecast


@dataclass(slots=True)
class Overview:
    """Everything the overview page, its CSV exports and the summary API show."""

    today: date
    start: date
    end: date
    filters: Filters
    use_cases: list[UseCaseRow]
    allocation: list[AllocationRow]
    by_vendor: MonthlySeries
    by_team: MonthlySeries
    period_cost: Decimal
    period_requests: int
    mtd_cost: Decimal
    last30_cost: Decimal
    unallocated_cost: Decimal
    budgets: list[BudgetStatus] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def period_label(self) -> str:
        return self.filters.label

    @property
    def top_use_cases(self) -> list[UseCaseRow]:
        spending = [row for row in self.use_cases if row.period_cost > 0]
        spending.sort(key=lambda row: (-row.period_cost, row.title))
        return spending[:TOP_USE_CASES]

    @property
    def estimates(self) -> list[UseCaseRow]:
        """Use-cases with an estimate or spend, the largest gap first."""
        rows = [
            row
            for row in self.use_cases
            if row.estimate is not None or row.last30_cost or row.mtd_cost
        ]
        rows.sort(
            key=lambda row: (
                -(abs(row.gap) if row.gap is not None else row.last30_cost),
                row.title,
            )
        )
        return rows

    @property
    def period_estimates(self) -> list[UseCaseRow]:
        """Use-cases with an estimate or spend in the period, largest period gap first."""
        rows = [r for r in self.use_cases if r.estimate is not None or r.period_cost]
        rows.sort(
            key=lambda r: (
                -(abs(r.period_gap) if r.period_gap is not None else r.period_cost),
                r.title,
            )
        )
        return rows[:ESTIMATE_ROWS]

    @property
    def estimates_shown(self) -> list[UseCaseRow]:
        return self.estimates[:ESTIMATE_ROWS]

    @property
    def flagged(self) -> list[UseCaseRow]:
        rows = [row for row in self.use_cases if row.flagged_at is not None]
        rows.sort(key=lambda row: row.flagged_at, reverse=True)
        return rows

    @property
    def allocation_count(self) -> int:
        return sum(row.use_cases for row in self.allocation)

    @property
    def alerts(self) -> list[BudgetStatus]:
        return [status for status in self.budgets if status.alert]

    @property
    def requests_per_day(self) -> float:
        return self.period_requests / self.days


def build_overview(
    *, user: User, filters: Filters, today: date | None = None
) -> Overview:
    """The portfolio as the user may see it, narrowed by ``filters`` (5 queries)."""
    today = today or utc_today()
    start, end = filters.bounds(today)
    rows = _use_case_rows(user, filters)
    usage = _usage_by_use_case(user, filters, start=start, end=end, today=today)
    totals = {"period_cost": ZERO, "period_requests": 0, "mtd": ZERO, "last30": ZERO}
    by_id = {row.id: row for row in rows}
    unallocated = ZERO
    for use_case_id, sums in usage.items():
        totals["period_cost"] += sums["period_cost"]
        totals["period_requests"] += sums["period_requests"]
        totals["mtd"] += sums["mtd"]
        totals["last30"] += sums["last30"]
        row = by_id.get(use_case_id) if use_case_id is not None else None
        if row is None or not row.in_allocation:
            unallocated += sums["period_cost"]
        if row is None:
            continue
        row.period_cost = sums["period_cost"]
        row.period_requests = sums["period_requests"]
        row.mtd_cost = sums["mtd"]
        row.last30_cost = sums["last30"]
    by_vendor, by_team = _monthly_series(user, filters, start=start, end=end)
    return Overview(
        today=today,
        start=start,
        end=end,
        filters=filters,
        use_cases=rows,
        allocation=_allocation(rows, days=(end - start).days + 1),
        by_vendor=by_vendor,
        by_team=by_team,
        period_cost=totals["period_cost"],
        period_requests=totals["period_requests"],
        mtd_cost=totals["mtd"],
        last30_cost=totals["last30"],
        unallocated_cost=unallocated,
        budgets=budget_statuses(user=user, today=today, team_id=filters.team_id),
    )


def _use_case_rows(user: User, filters: Filters) -> list[UseCaseRow]:
    values = (
        filtered_use_cases(user, filters)
        .order_by("title", "pk")
        .values(
            "pk",
            "title",
            "team__name",
            "status",
            "effective_outcome",
            "latest_monthly_cost",
            "requests_per_day",
            "reassessment_flagged_at",
            "reassessment_reason",
        )
    )
    status_labels = dict(UseCase.Status.choices)
    return [
        UseCaseRow(
            id=v["pk"],
            title=v["title"],
            team=v["team__name"] or "",
            status=v["status"],
            status_label=str(status_labels.get(v["status"], v["status"])),
            outcome=v["effective_outcome"] or NOT_ASSESSED,
            estimate=v["latest_monthly_cost"],
            declared_requests_per_day=v["requests_per_day"],
            flagged_at=v["reassessment_flagged_at"],
            flag_reason=v["reassessment_reason"],
        )
        for v in values
    ]


def _usage_by_use_case(
    user: User, filters: Filters, *, start: date, end: date, today: date
) -> dict[int | None, dict[str, Any]]:
    """Per use-case: spend and requests in the period, this month, the last 30 days.

    The period's whole months come from the monthly rollups (one grouped query),
    the rest from the daily ones: the leftover days of the period, this month and
    the last 30 days (one grouped query over at most a few weeks).
    """
    first_of_month = month_start(today)
    last30 = today - timedelta(days=29)
    split = split_period(start, end)
    period = split.day_q
    recent = Q(date__gte=min(first_of_month, last30), date__lte=today)
    rows = (
        scoped_usage(user, filters)
        .filter(period | recent)
        .values("use_case_id")
        .annotate(
            period_cost=Coalesce(Sum("cost", filter=period), Value(ZERO)),
            period_requests=Coalesce(Sum("requests", filter=period), Value(0)),
            mtd=Coalesce(
                Sum("cost", filter=Q(date__gte=first_of_month, date__lte=today)),
                Value(ZERO),
            ),
            last30=Coalesce(
                Sum("cost", filter=Q(date__gte=last30, date__lte=today)), Value(ZERO)
            ),
        )
        .order_by()
    )
    usage = {row.pop("use_case_id"): _decimals(row) for row in rows}
    if split.months is None:
        return usage
    months = (
        scoped_usage(user, filters, rollup=MonthlyUsage)
        .filter(split.month_q)
        .values("use_case_id")
        .annotate(period_cost=Sum("cost"), period_requests=Sum("requests"))
        .order_by()
    )
    for row in months:
        sums = usage.setdefault(
            row["use_case_id"],
            {"period_cost": ZERO, "period_requests": 0, "mtd": ZERO, "last30": ZERO},
        )
        sums["period_cost"] += exact(row["period_cost"])
        sums["period_requests"] += row["period_requests"] or 0
    return usage


def _decimals(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite may hand back floats or ints for decimal sums; keep Decimals."""
    return {
        key: value if key.endswith("requests") else exact(value)
        for key, value in row.items()
    }


def _allocation(rows: Iterable[UseCaseRow], *, days: int) -> list[AllocationRow]:
    groups: dict[str, list[UseCaseRow]] = defaultdict(list)
    for row in rows:
        if row.in_allocation:
            groups[row.outcome].append(row)
    result = []
    for outcome, label in OUTCOME_LABELS.items():
        members = groups.get(outcome, [])
        if outcome == NOT_ASSESSED and not members:
            continue
        period_cost = sum((row.period_cost for row in members), ZERO)
        result.append(
            AllocationRow(
                outcome=outcome,
                label=label,
                use_cases=len(members),
                requests_per_day=sum(row.period_requests for row in members) / days,
                declared_requests_per_day=sum(
                    row.declared_requests_per_day for row in members
                ),
                period_cost=period_cost,
                monthly_spend=(period_cost * DAYS_A_MONTH / days).quantize(CENT),
            )
        )
    return result


def _monthly_series(
    user: User, filters: Filters, *, start: date, end: date
) -> tuple[MonthlySeries, MonthlySeries]:
    """Spend a month by vendor and by team: whole months from the monthly rollups,
    leftover days from the daily ones (a grouped query each)."""
    months = months_between(start, end)
    index = {month: i for i, month in enumerate(months)}
    vendors: dict[str, list[Decimal]] = {}
    teams: dict[str, list[Decimal]] = {}
    split = split_period(start, end)
    sources = [
        scoped_usage(user, filters)
        .filter(split.day_q)
        .annotate(month_of=TruncMonth("date"))
    ]
    if split.months is not None:
        sources.append(
            scoped_usage(user, filters, rollup=MonthlyUsage)
            .filter(split.month_q)
            .annotate(month_of=F("month"))
        )
    for source in sources:
        rows = (
            source.values("month_of", "vendor", "team__name")
            .annotate(sum_cost=Sum("cost"))
            .order_by()
        )
        for row in rows:
            month = row["month_of"]
            if hasattr(month, "date"):  # a datetime on some backends
                month = month.date()
            i = index[month]
            cost = exact(row["sum_cost"])
            vendor = row["vendor"] or "Unknown vendor"
            team = row["team__name"] or "No team"
            vendors.setdefault(vendor, [ZERO] * len(months))[i] += cost
            teams.setdefault(team, [ZERO] * len(months))[i] += cost

    def ordered(series: dict[str, list[Decimal]]) -> MonthlySeries:
        items = sorted(series.items(), key=lambda item: (-sum(item[1], ZERO), item[0]))
        return MonthlySeries(months=months, series=items)

    return ordered(vendors), ordered(teams)


# Budgets.


def forecast_month_end(*, spent: Decimal, run_rate: Decimal, today: date) -> Decimal:
    """Spend so far plus the daily run-rate over the days after today."""
    days_left = (month_end(today) - today).days
    return (spent + run_rate * days_left).quantize(CENT)


def budget_statuses(
    *, user: User | None, today: date | None = None, team_id: int | None = None
) -> list[BudgetStatus]:
    """Budgets the user may see (all when ``user`` is None), with this month's forecast.

    Two queries: the budgets, and this month's and the last week's spend of their
    teams and use-cases.
    """
    today = today or utc_today()
    budgets = Budget.objects.for_list()
    if user is not None:
        budgets = budgets.visible_to(user)
    if team_id:
        budgets = budgets.filter(Q(team_id=team_id) | Q(use_case__team_id=team_id))
    budgets_list = list(budgets.order_by("team__name", "use_case__title", "pk"))
    if not budgets_list:
        return []
    first_of_month = month_start(today)
    week_start = today - timedelta(days=RUN_RATE_DAYS)
    usage = DailyUsage.objects.all() if user is None else scoped_usage(user)
    rows = (
        usage.filter(date__gte=min(first_of_month, week_start), date__lte=today)
        .filter(
            Q(team_id__in=[b.team_id for b in budgets_list if b.team_id])
            | Q(use_case_id__in=[b.use_case_id for b in budgets_list if b.use_case_id])
        )
        .values("team_id", "use_case_id")
        .annotate(
            spent=Sum("cost", filter=Q(date__gte=first_of_month)),
            week=Sum("cost", filter=Q(date__gte=week_start, date__lt=today)),
        )
        .order_by()
    )
    spent: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    week: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for row in rows:
        for key in (("team", row["team_id"]), ("use_case", row["use_case_id"])):
            if key[1] is None:
                continue
            spent[key] += exact(row["spent"])
            week[key] += exact(row["week"])
    days_left = (month_end(today) - today).days
    statuses = []
    for budget in budgets_list:
        key = (
            ("team", budget.team_id)
            if budget.team_id
            else ("use_case", budget.use_case_id)
        )
        run_rate = (week[key] / RUN_RATE_DAYS).quantize(CENT)
        statuses.append(
            BudgetStatus(
                budget=budget,
                spent=spent[key],  # exact: rounding is the page's business
                run_rate=run_rate,
                days_left=days_left,
                forecast=forecast_month_end(
                    spent=spent[key], run_rate=week[key] / RUN_RATE_DAYS, today=today
                ),
            )
        )
    return statuses


# The spend API.

GROUPS: dict[str, tuple[str, str]] = {
    # group_by: (key field, label field)
    "vendor": ("vendor", "vendor"),
    "use_case": ("use_case_id", "use_case__title"),
    "team": ("team_id", "team__name"),
    "model": ("model", "model"),
}


def spend_rows(
    *, user: User, group_by: str, start: date, end: date, period: str = "month"
) -> list[dict[str, Any]]:
    """Every row of :func:`spend_page` (for CSV), in the same order."""
    return spend_page(
        user=user, group_by=group_by, start=start, end=end, period=period
    )[1]


def spend_page(
    *,
    user: User,
    group_by: str,
    start: date,
    end: date,
    period: str = "month",
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Spend and usage grouped by ``group_by`` and by month (or by day): the total
    number of rows, and ``limit`` of them from ``offset`` (all when None).

    Rows are dicts: ``period`` (the month's first day, or the day), the group's
    key and label fields (see ``GROUPS``), ``requests``, ``input_tokens``,
    ``output_tokens`` and ``cost``; ordered by period, then key. By month, whole
    months are read from the monthly rollups, the days of a month cut by
    ``start`` or ``end`` from the daily ones (at most one month at each end). The
    sums are computed once: the page's query also counts the rows (a window).
    """
    head, body, tail = _spend_segments(
        user=user, group_by=group_by, start=start, end=end, period=period
    )
    first = list(head) if head is not None else []
    last = list(tail) if tail is not None else []
    if limit is None:
        every = [*first, *body, *last]
        return len(every), _with_labels(every, group_by)
    rows = first[offset : offset + limit]
    wanted = limit - len(rows)
    body_offset = max(offset - len(first), 0)
    middle: list[dict[str, Any]] = []
    if wanted:
        middle = list(
            body.annotate(full_count=Window(Count("*")))[
                body_offset : body_offset + wanted
            ]
        )
    if middle:
        body_count = middle[0]["full_count"]
        for row in middle:
            del row["full_count"]
    elif wanted and not body_offset:
        body_count = 0
    else:  # the page is all before or all after the whole months
        body_count = body.count()
    rows += middle
    wanted -= len(middle)
    tail_offset = max(offset - len(first) - body_count, 0)
    if wanted:
        rows += last[tail_offset : tail_offset + wanted]
    return len(first) + body_count + len(last), _with_labels(rows, group_by)


#: Groups whose label is another table's column: read for the rows shown only,
#: so the grouped queries need no join.
_LABELS: dict[str, tuple[type[Any], str]] = {
    "use_case": (UseCase, "title"),
    "team": (Team, "name"),
}


def _with_labels(rows: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    """Add the label field to ``rows`` (one query for their keys, if any)."""
    if group_by not in _LABELS:
        return rows
    model, column = _LABELS[group_by]
    key_field, label_field = GROUPS[group_by]
    keys = {row[key_field] for row in rows} - {None}
    labels = dict(model.objects.filter(pk__in=keys).values_list("pk", column))
    for row in rows:
        row[label_field] = labels.get(row[key_field])
    return rows


def _spend_segments(
    *, user: User, group_by: str, start: date, end: date, period: str
) -> tuple[QuerySet[Any] | None, QuerySet[Any], QuerySet[Any] | None]:
    """The grouped queries of a report, in period order: the days before the
    whole months, the whole months (or every day, by day), the days after."""
    key_field = GROUPS[group_by][0]
    fields = ["period", key_field]

    def grouped(rows: QuerySet[Any]) -> QuerySet[Any]:
        return (
            rows.values(*fields)
            .annotate(
                requests=Sum("requests"),
                input_tokens=Sum("input_tokens"),
                output_tokens=Sum("output_tokens"),
                cost=Sum("cost"),
            )
            # By key, not label: sorting thousands of titles by collation is slow.
            .order_by("period", key_field)
        )

    daily = scoped_usage(user)
    if period == "day":
        days = daily.filter(date__gte=start, date__lte=end)
        return None, grouped(days.annotate(period=F("date"))), None
    split = split_period(start, end)
    if split.months is None:
        days = daily.filter(date__gte=start, date__lte=end)
        return None, grouped(days.annotate(period=TruncMonth("date"))), None
    first, last = split.months
    head = tail = None
    for low, high in split.days:
        days = grouped(
            daily.filter(date__gte=low, date__lte=high).annotate(
                period=TruncMonth("date")
            )
        )
        if high < first:
            head = days
        else:
            tail = days
    months = scoped_usage(user, rollup=MonthlyUsage).filter(
        month__gte=first, month__lte=last
    )
    return head, grouped(months.annotate(period=F("month"))), tail
