"""CSV of every table on the portfolio pages, from the same :class:`Overview`.

Amounts go out exact (the ledger's six decimals): a spreadsheet summing the rows
gets the total, to the last decimal. Rounding to cents is for display only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from .queries import Overview, exact

Table = tuple[list[str], list[list[Any]]]


def money(value: Decimal | float | int | None) -> str:
    """An exact amount with the ledger's six decimals ("" for none), never rounded
    to cents: rows summed by the reader must give the total."""
    if value is None:
        return ""
    return f"{exact(value):f}"


def _allocation(overview: Overview) -> Table:
    header = [
        "outcome",
        "label",
        "use_cases",
        "requests_per_day",
        "declared_requests_per_day",
        "spend_in_period",
        "monthly_spend",
    ]
    rows = [
        [
            row.outcome,
            row.label,
            row.use_cases,
            f"{row.requests_per_day:.1f}",
            row.declared_requests_per_day,
            money(row.period_cost),
            money(row.monthly_spend),
        ]
        for row in overview.allocation
    ]
    return header, rows


def _monthly(name: str) -> Callable[[Overview], Table]:
    def table(overview: Overview) -> Table:
        series = overview.by_vendor if name == "vendor" else overview.by_team
        header = [name] + [m.strftime("%Y-%m") for m in series.months] + ["total"]
        rows = [
            [label, *(money(v) for v in values), money(total)]
            for label, values, total in series.rows()
        ]
        return header, rows

    return table


USE_CASE_HEADER = [
    "use_case_id",
    "title",
    "team",
    "status",
    "outcome",
    "estimate_monthly",
    "actual_this_month",
    "actual_last_30_days",
    "gap",
    "spend_in_period",
    "requests_in_period",
]


def _use_case_line(row: Any) -> list[Any]:
    return [
        row.id,
        row.title,
        row.team,
        row.status,
        row.outcome,
        money(row.estimate),
        money(row.mtd_cost),
        money(row.last30_cost),
        money(row.gap),
        money(row.period_cost),
        row.period_requests,
    ]


def _top(overview: Overview) -> Table:
    return USE_CASE_HEADER, [_use_case_line(r) for r in overview.top_use_cases]


def _estimates(overview: Overview) -> Table:
    return USE_CASE_HEADER, [_use_case_line(r) for r in overview.estimates]


def _use_cases(overview: Overview) -> Table:
    return USE_CASE_HEADER, [_use_case_line(r) for r in overview.use_cases]


def _flagged(overview: Overview) -> Table:
    header = ["use_case_id", "title", "team", "outcome", "flagged_at", "reason"]
    rows = [
        [r.id, r.title, r.team, r.outcome, r.flagged_at.isoformat(), r.flag_reason]
        for r in overview.flagged
    ]
    return header, rows


def _budgets(overview: Overview) -> Table:
    header = [
        "budget_id",
        "scope",
        "team",
        "use_case_id",
        "use_case",
        "monthly_amount",
        "spent_this_month",
        "run_rate_a_day",
        "days_left",
        "forecast",
        "state",
    ]
    rows = []
    for status in overview.budgets:
        budget = status.budget
        rows.append(
            [
                budget.pk,
                budget.scope,
                budget.team.name if budget.team else budget.use_case.team.name,
                budget.use_case_id or "",
                budget.use_case.title if budget.use_case else "",
                money(status.amount),
                money(status.spent),
                money(status.run_rate),
                status.days_left,
                money(status.forecast),
                status.state,
            ]
        )
    return header, rows


TABLES: dict[str, tuple[str, Callable[[Overview], Table]]] = {
    "allocation": ("Allocation by outcome", _allocation),
    "vendors": ("Spend a month by vendor", _monthly("vendor")),
    "teams": ("Spend a month by team", _monthly("team")),
    "top": ("Top use-cases by spend", _top),
    "estimates": ("Estimate against actual", _estimates),
    "flagged": ("Flagged for re-assessment", _flagged),
    "budgets": ("Budgets", _budgets),
    "use-cases": ("Every use-case", _use_cases),
}


def table_for(name: str, overview: Overview) -> Table:
    return TABLES[name][1](overview)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text; cells that a spreadsheet would run as a formula are neutralised."""
    return "".join(csv_lines(header, rows))


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """:func:`write_csv` a line at a time, for streamed responses."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe(cell) for cell in row])
        yield buffer.getvalue()


def _safe(cell: Any) -> Any:
    formula = isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r")
    if formula and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
