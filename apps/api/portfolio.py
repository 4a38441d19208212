"""`/api/v1/portfolio/summary/` and `/api/v1/spend/…`: the portfolio for tools.

They read the daily rollups through :mod:`apps.portfolio.queries`, the same code
as the pages, so a requester gets only their team's use-cases' spend.
`/spend/?format=csv` returns every row as CSV (no pagination). Amounts are exact
decimal strings with the ledger's six places: rows add up to any total.

`/spend/reconciliation/` sets provider bills against computed spend (readers of
everything only); `/spend/focus/` streams FinOps FOCUS CSV.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import InvalidPage
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Team
from apps.api.pagination import PageNumberPagination, page_parameters
from apps.portfolio import exports, focus, reconciliation
from apps.portfolio.access import can_view_portfolio, can_view_reconciliation
from apps.portfolio.queries import (
    DEFAULT_PERIOD,
    GROUPS,
    OUTCOME_LABELS,
    PERIODS,
    Filters,
    add_months,
    build_overview,
    spend_page,
    spend_rows,
    utc_today,
)

#: The longest date range one spend request may cover.
MAX_SPEND_DAYS = 3 * 366


class CSVRenderer(BaseRenderer):
    """Rows (a list of flat dicts, or a page's ``results``) as CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, dict):
            data = data.get("results", [data])
        rows = list(data or [])
        view = (renderer_context or {}).get("view")
        header = list(getattr(view, "csv_header", None) or (rows[0] if rows else []))
        text = exports.write_csv(
            header, ([row.get(k, "") for k in header] for row in rows)
        )
        return text.encode(self.charset)


class CanViewPortfolio(permissions.BasePermission):
    message = "Your role does not open the portfolio."

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        return can_view_portfolio(request.user)


class CanViewReconciliation(permissions.BasePermission):
    message = "Provider bills are for the board, platform, procurement and auditors."

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        return can_view_reconciliation(request.user)


class PortfolioAPIView(APIView):
    permission_classes = [
        permissions.IsAuthenticated,
        CanViewPortfolio,
    ]

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Errors are JSON whatever format was asked for.
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _date_range(attrs: dict[str, Any], *, default_start: Any) -> dict[str, Any]:
    """``start``/``end`` filled in (end: today, UTC) and checked: in order, bounded."""
    today = utc_today()
    end = attrs.get("end") or today
    start = attrs.get("start") or default_start(min(end, today))
    if start > end:
        raise serializers.ValidationError({"start": ["Start is after end."]})
    if (end - start).days > MAX_SPEND_DAYS:
        raise serializers.ValidationError(
            {"end": [f"Ask for at most {MAX_SPEND_DAYS} days at once."]}
        )
    return {**attrs, "start": start, "end": end}


# Spend.


class SpendQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=sorted(GROUPS))
    period = serializers.ChoiceField(choices=["month", "day"], default="month")
    start = serializers.DateField(
        required=False,
        help_text="First day (inclusive); default 11 months ago. On or before "
        f"`end`, at most {MAX_SPEND_DAYS} days before it, else a 400.",
    )
    end = serializers.DateField(
        required=False, help_text="Last day (inclusive); default today (UTC)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _date_range(attrs, default_start=lambda end: add_months(end, -11))


class SpendRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM (by month) or YYYY-MM-DD.")
    group_by = serializers.CharField()
    key = serializers.CharField(
        allow_null=True,
        help_text="The vendor or model name, or the use-case or team id (as text).",
    )
    label = serializers.CharField(allow_null=True)
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(
        max_digits=22,
        decimal_places=6,
        help_text="Exact USD with the ledger's six decimals: rows add up to the "
        "total (round for display only).",
    )


class SpendPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SpendRowSerializer(many=True)


class SpendView(PortfolioAPIView):
    """Collected spend and usage, grouped by vendor, use-case, team or model."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    csv_header = [
        "period",
        "group_by",
        "key",
        "label",
        "requests",
        "input_tokens",
        "output_tokens",
        "cost",
    ]

    @extend_schema(
        operation_id="spend_list",
        parameters=[
            SpendQuerySerializer,
            *page_parameters(),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv"],
                description="`csv`: every row as CSV, without pagination.",
            ),
        ],
        responses={
            (200, "application/json"): SpendPageSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Every row (no pagination)."
            ),
            (400, "application/json"): OpenApiResponse(
                description="Field errors, e.g. a bad group_by."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = SpendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        window = {
            "user": request.user,
            "group_by": params["group_by"],
            "start": params["start"],
            "end": params["end"],
            "period": params["period"],
        }
        shape = _spend_row_shaper(params["group_by"], params["period"])
        paginator = PageNumberPagination()
        paginator.check(request)  # CSV ignores them, but they must be valid
        if request.accepted_renderer.format == "csv":
            return Response([shape(row) for row in spend_rows(**window)])
        # One grouped query gives the page and the count (no second pass).
        size = paginator.get_page_size(request)
        number = paginator.get_page_number(request, None)
        count, rows = spend_page(**window, offset=(number - 1) * size, limit=size)
        _set_page(paginator, request, count=count, size=size, number=number)
        data = SpendRowSerializer([shape(row) for row in rows], many=True).data
        return paginator.get_paginated_response(data)


def _set_page(
    paginator: PageNumberPagination,
    request: Request,
    *,
    count: int,
    size: int,
    number: int,
) -> None:
    """Give ``paginator`` the page a view fetched itself, for its links and count.

    A page past the last one is a 404, as DRF answers.
    """
    pages = paginator.django_paginator_class(range(count), size)
    try:
        paginator.page = pages.page(number)
    except InvalidPage as exc:
        raise NotFound(
            paginator.invalid_page_message.format(page_number=number, message=exc)
        ) from exc
    paginator.request = request


def _spend_row_shaper(group_by: str, period: str):  # type: ignore[no-untyped-def]
    key_field, label_field = GROUPS[group_by]

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        day = row["period"]
        if isinstance(day, datetime):  # some backends truncate to a date-time
            day = day.date()
        return {
            "period": day.strftime("%Y-%m") if period == "month" else day.isoformat(),
            "group_by": group_by,
            "key": row[key_field],
            "label": row[label_field],
            "requests": row["requests"] or 0,
            "input_tokens": row["input_tokens"] or 0,
            "output_tokens": row["output_tokens"] or 0,
            "cost": exports.money(row["cost"] or 0),
        }

    return shape


# Summary.


class PortfolioSummaryQuerySerializer(serializers.Serializer):
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    outcome = serializers.ChoiceField(choices=list(OUTCOME_LABELS), required=False)
    period = serializers.ChoiceField(choices=list(PERIODS), default=DEFAULT_PERIOD)


class MoneyField(serializers.DecimalField):
    """USD, exact to the ledger's six decimals (round for display only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=22, decimal_places=6, **kwargs)


class PortfolioAllocationSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=list(OUTCOME_LABELS))
    label = serializers.CharField()
    use_cases = serializers.IntegerField()
    requests_per_day = serializers.FloatField()
    declared_requests_per_day = serializers.IntegerField()
    spend_in_period = MoneyField(source="period_cost")
    monthly_spend = MoneyField()


class SpendSeriesSerializer(serializers.Serializer):
    label = serializers.CharField()
    values = serializers.ListField(child=MoneyField())
    total = MoneyField()


class UseCaseSpendSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    team = serializers.CharField()
    status = serializers.CharField()
    outcome = serializers.CharField()
    estimate_monthly = MoneyField(source="estimate", allow_null=True)
    actual_this_month = MoneyField(source="mtd_cost")
    actual_last_30_days = MoneyField(source="last30_cost")
    gap = MoneyField(allow_null=True)
    spend_in_period = MoneyField(source="period_cost")
    requests_in_period = serializers.IntegerField(source="period_requests")


class FlaggedUseCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    team = serializers.CharField()
    outcome = serializers.CharField()
    reassessment_flagged_at = serializers.DateTimeField(source="flagged_at")
    reassessment_reason = serializers.CharField(source="flag_reason")


class BudgetStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="budget.pk")
    scope = serializers.ChoiceField(choices=["team", "use_case"], source="budget.scope")
    team = serializers.IntegerField(source="budget.team_id", allow_null=True)
    use_case = serializers.IntegerField(source="budget.use_case_id", allow_null=True)
    monthly_amount = MoneyField(source="amount")
    spent_this_month = MoneyField(source="spent")
    run_rate_a_day = MoneyField(source="run_rate")
    days_left = serializers.IntegerField()
    forecast = MoneyField()
    state = serializers.ChoiceField(choices=["ok", "warning", "over"])
    alert = serializers.BooleanField()


class SummaryPeriodSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(PERIODS))
    label = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()


class SummaryTotalsSerializer(serializers.Serializer):
    use_cases = serializers.IntegerField(help_text="Use-cases in the allocation.")
    spend_in_period = MoneyField()
    requests_in_period = serializers.IntegerField()
    requests_per_day = serializers.FloatField()
    spend_this_month = MoneyField()
    spend_last_30_days = MoneyField()
    unallocated_spend = MoneyField(
        help_text="Spend not on an allocated use-case (idle capacity, team-level "
        "mappings, retired use-cases)."
    )
    budget_alerts = serializers.IntegerField()


class PortfolioSummarySerializer(serializers.Serializer):
    period = SummaryPeriodSerializer()
    totals = SummaryTotalsSerializer()
    months = serializers.ListField(child=serializers.CharField())
    allocation = PortfolioAllocationSerializer(many=True)
    spend_by_vendor = SpendSeriesSerializer(many=True)
    spend_by_team = SpendSeriesSerializer(many=True)
    top_use_cases = UseCaseSpendSerializer(many=True)
    estimates = UseCaseSpendSerializer(many=True)
    flagged = FlaggedUseCaseSerializer(many=True)
    budgets = BudgetStatusSerializer(many=True)


class PortfolioSummaryView(PortfolioAPIView):
    """The portfolio overview's numbers: allocation, spend, estimates, budgets."""

    @extend_schema(
        operation_id="portfolio_summary",
        parameters=[PortfolioSummaryQuerySerializer],
        responses={
            200: PortfolioSummarySerializer,
            400: OpenApiResponse(description="Field errors, e.g. a bad period."),
        },
    )
    def get(self, request: Request) -> Response:
        query = PortfolioSummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        team = params.get("team")
        if (
            team is not None
            and not request.user.reads_everything
            and team.pk != request.user.team_id
        ):
            raise PermissionDenied("You can only ask for your own team.")
        filters = Filters(
            team_id=team.pk if team else None,
            outcome=params.get("outcome"),
            period=params["period"],
        )
        overview = build_overview(user=request.user, filters=filters)
        data = {
            "period": {
                "name": filters.period,
                "label": overview.period_label,
                "start": overview.start,
                "end": overview.end,
            },
            "totals": {
                "use_cases": overview.allocation_count,
                "spend_in_period": overview.period_cost,
                "requests_in_period": overview.period_requests,
                "requests_per_day": round(overview.requests_per_day, 2),
                "spend_this_month": overview.mtd_cost,
                "spend_last_30_days": overview.last30_cost,
                "unallocated_spend": overview.unallocated_cost,
                "budget_alerts": len(overview.alerts),
            },
            "months": [m.strftime("%Y-%m") for m in overview.by_vendor.months],
            "allocation": overview.allocation,
            "spend_by_vendor": _series(overview.by_vendor),
            "spend_by_team": _series(overview.by_team),
            "top_use_cases": overview.top_use_cases,
            "estimates": overview.estimates,
            "flagged": overview.flagged,
            "budgets": overview.budgets,
        }
        return Response(PortfolioSummarySerializer(data).data)


def _series(series: Any) -> list[dict[str, Any]]:
    return [
        {"label": label, "values": values, "total": total}
        for label, values, total in series.rows()
    ]


# Reconciliation.


class ReconciliationQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=list(reconciliation.PERIODS), default="day"
    )
    start = serializers.DateField(
        required=False,
        help_text="First UTC day (inclusive); default the first of the month two "
        f"months ago. On or before `end`, at most {MAX_SPEND_DAYS} days before it, "
        "else a 400.",
    )
    end = serializers.DateField(
        required=False, help_text="Last UTC day (inclusive); default today (UTC)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _date_range(
            attrs, default_start=lambda end: reconciliation.default_range(end)[0]
        )


class ExactMoneyField(serializers.DecimalField):
    """USD, exact to the ledger's six decimals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=22, decimal_places=6, **kwargs)


class ReconciliationExplanationSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=["no_use_case", "no_price"],
        help_text="`no_use_case`: no mapping covers this model, project and key, so "
        "the cost belongs to no use-case; `no_price`: the model has no price, so "
        "the portal counts no cost for these tokens.",
    )
    model = serializers.CharField(allow_blank=True)
    project_id = serializers.CharField(allow_blank=True)
    api_key_id = serializers.CharField(allow_blank=True)
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = ExactMoneyField(allow_null=True)


class ReconciliationRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM-DD (by day) or YYYY-MM.")
    endpoint = serializers.IntegerField(source="endpoint_id")
    endpoint_name = serializers.CharField()
    provider = serializers.CharField()
    billed_cost = ExactMoneyField(
        allow_null=True,
        help_text="The provider's cost report for the period; null if none came.",
    )
    computed_cost = ExactMoneyField(
        help_text="The portal's cost of the endpoint's usage in the period."
    )
    variance = ExactMoneyField(
        allow_null=True, help_text="billed_cost - computed_cost."
    )
    variance_percent = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="The variance as a per cent of billed_cost.",
    )
    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    unmapped_cost = ExactMoneyField(
        help_text="Part of computed_cost on no use-case (unmapped keys, projects)."
    )
    unmapped_input_tokens = serializers.IntegerField()
    unmapped_output_tokens = serializers.IntegerField()
    unpriced_requests = serializers.IntegerField()
    unpriced_input_tokens = serializers.IntegerField(
        help_text="Tokens without a price: not in computed_cost."
    )
    unpriced_output_tokens = serializers.IntegerField()
    explanations = ReconciliationExplanationSerializer(many=True)


class ReconciliationTotalsSerializer(serializers.Serializer):
    billed_cost = ExactMoneyField()
    computed_cost = ExactMoneyField()
    computed_cost_billed_periods = ExactMoneyField(
        help_text="computed_cost of the rows with a bill only."
    )
    variance = ExactMoneyField(
        help_text="billed_cost - computed_cost_billed_periods: the sum of the rows' "
        "variances."
    )
    unmapped_cost = ExactMoneyField()
    unpriced_input_tokens = serializers.IntegerField()
    unpriced_output_tokens = serializers.IntegerField()


class ReconciliationPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    totals = ReconciliationTotalsSerializer(help_text="Of every row, not the page.")
    results = ReconciliationRowSerializer(many=True)


class ReconciliationView(PortfolioAPIView):
    """Provider bills against the portal's computed spend, per endpoint and period."""

    permission_classes = [permissions.IsAuthenticated, CanViewReconciliation]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    csv_header = [
        "period",
        "endpoint",
        "endpoint_name",
        "provider",
        "billed_cost",
        "computed_cost",
        "variance",
        "variance_percent",
        "requests",
        "input_tokens",
        "output_tokens",
        "unmapped_cost",
        "unmapped_input_tokens",
        "unmapped_output_tokens",
        "unpriced_requests",
        "unpriced_input_tokens",
        "unpriced_output_tokens",
    ]

    @extend_schema(
        operation_id="spend_reconciliation",
        parameters=[
            ReconciliationQuerySerializer,
            *page_parameters(),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv"],
                description="`csv`: every row as CSV, without pagination or the "
                "explanations.",
            ),
        ],
        responses={
            (200, "application/json"): ReconciliationPageSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Every row (no pagination)."
            ),
            (400, "application/json"): OpenApiResponse(
                description="Field errors, e.g. a bad start date."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = ReconciliationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        window = {
            "start": params["start"],
            "end": params["end"],
            "period": params["period"],
        }
        rows = reconciliation.reconcile(**window)
        shape = _reconciliation_shaper(params["period"])
        paginator = PageNumberPagination()
        paginator.check(request)  # CSV ignores them, but they must be valid
        if request.accepted_renderer.format == "csv":
            return Response([shape(row) for row in rows])
        page = paginator.paginate_queryset(rows, request, view=self) or []
        reconciliation.attach_explanations(page, **window)
        response = paginator.get_paginated_response(
            ReconciliationRowSerializer([shape(row) for row in page], many=True).data
        )
        totals = reconciliation.totals(rows)
        response.data["totals"] = ReconciliationTotalsSerializer(
            {
                "billed_cost": totals.billed_cost,
                "computed_cost": totals.computed_cost,
                "computed_cost_billed_periods": totals.computed_cost_billed_periods,
                "variance": totals.variance,
                "unmapped_cost": totals.unmapped_cost,
                "unpriced_input_tokens": totals.unpriced_input_tokens,
                "unpriced_output_tokens": totals.unpriced_output_tokens,
            }
        ).data
        return response


def _reconciliation_shaper(period: str):  # type: ignore[no-untyped-def]
    def shape(row: reconciliation.ReconciliationRow) -> dict[str, Any]:
        return {
            "period": row.period.strftime("%Y-%m")
            if period == "month"
            else row.period.isoformat(),
            "endpoint": row.endpoint_id,
            "endpoint_id": row.endpoint_id,
            "endpoint_name": row.endpoint_name,
            "provider": row.provider,
            "billed_cost": _money_or_none(row.billed_cost),
            "computed_cost": exports.money(row.computed_cost),
            "variance": _money_or_none(row.variance),
            "variance_percent": row.variance_percent,
            "requests": row.requests,
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "unmapped_cost": exports.money(row.unmapped_cost),
            "unmapped_input_tokens": row.unmapped_input_tokens,
            "unmapped_output_tokens": row.unmapped_output_tokens,
            "unpriced_requests": row.unpriced_requests,
            "unpriced_input_tokens": row.unpriced_input_tokens,
            "unpriced_output_tokens": row.unpriced_output_tokens,
            "explanations": [
                {
                    "reason": e.reason,
                    "model": e.model,
                    "project_id": e.project_id,
                    "api_key_id": e.api_key_id,
                    "requests": e.requests,
                    "input_tokens": e.input_tokens,
                    "output_tokens": e.output_tokens,
                    "cost": e.cost,
                }
                for e in row.explanations
            ],
        }

    return shape


def _money_or_none(value: Any) -> str | None:
    return None if value is None else exports.money(value)


# FOCUS.


class FocusQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False,
        help_text="First UTC day (inclusive); default this month's first. On or "
        f"before `end`, at most {MAX_SPEND_DAYS} days before it, else a 400.",
    )
    end = serializers.DateField(
        required=False, help_text="Last UTC day (inclusive); default today (UTC)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _date_range(attrs, default_start=lambda end: end.replace(day=1))


class FocusCSVRenderer(BaseRenderer):
    """Names ``text/csv`` for content negotiation; the view streams the body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # type: ignore[no-untyped-def]
        return b""


class FocusExportView(PortfolioAPIView):
    """Spend as FinOps FOCUS 1.x CSV, streamed."""

    renderer_classes = [FocusCSVRenderer, JSONRenderer]

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        if response.status_code >= 400:  # errors are JSON
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="spend_focus",
        parameters=[FocusQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="FOCUS 1.x columns (BilledCost, EffectiveCost, "
                "BillingCurrency, ChargePeriodStart, ChargePeriodEnd, "
                "ChargeCategory, ServiceCategory, ServiceName, ProviderName, "
                "ResourceId, ConsumedQuantity, ConsumedUnit, Tags, …): one row per "
                "UTC day, endpoint, model and use-case, streamed.",
            ),
            (400, "application/json"): OpenApiResponse(
                description="Field errors, e.g. a bad end date."
            ),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = FocusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        chunks = _chunks(focus.focus_csv(user=request.user, start=start, end=end))
        if isinstance(request._request, ASGIRequest):
            # A sync iterator would be read whole into memory under ASGI.
            chunks = _async_chunks(chunks)
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="focus-{start.isoformat()}-{end.isoformat()}.csv"'
        )
        return response


#: CSV lines sent together in one chunk of a streamed response.
LINES_A_CHUNK = 500


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    while chunk := "".join(islice(lines, LINES_A_CHUNK)):
        yield chunk


async def _async_chunks(chunks: Iterator[str]) -> AsyncIterator[str]:
    # thread_sensitive: every chunk reads the same cursor on the same connection.
    take = sync_to_async(lambda: next(chunks, ""), thread_sensitive=True)
    while chunk := await take():
        yield chunk
