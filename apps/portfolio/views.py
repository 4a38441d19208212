from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import charts, exports, reconciliation, services
from .access import (
    can_manage_budgets,
    can_view_portfolio,
    can_view_reconciliation,
    get_budget_for,
)
from .forms import BudgetForm, PortfolioFilterForm, ReconciliationForm, parse_month
from .queries import Filters, budget_statuses, build_overview, utc_today


def _require_portfolio(request: HttpRequest) -> None:
    if not can_view_portfolio(request.user):
        raise PermissionDenied("Your role does not open the portfolio.")


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    _require_portfolio(request)
    form = PortfolioFilterForm(request.GET, user=request.user)
    filters = form.filters()
    data = build_overview(user=request.user, filters=filters)
    template = "portfolio/portfolio_overview.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(
        request,
        template,
        {
            "form": form,
            "overview": data,
            "figures": charts.overview_figures(data),
            "query": _query(request),
            "tables": exports.TABLES,
            "can_manage_budgets": can_manage_budgets(request.user),
            "reads_everything": request.user.reads_everything,
            "can_reconcile": can_view_reconciliation(request.user),
        },
    )


#: Rows a reconciliation page shows at a time.
RECONCILIATION_PAGE = 50


@login_required
@require_GET
def reconciliation_report(request: HttpRequest) -> HttpResponse:
    """Provider bills against computed spend, with the usage that explains a gap."""
    if not can_view_reconciliation(request.user):
        raise PermissionDenied(
            "Provider bills are for the board, platform, procurement and auditors."
        )
    form = ReconciliationForm(request.GET, today=utc_today())
    context: dict[str, object] = {"form": form}
    if form.is_valid():  # else the page shows the field errors and no rows
        window = {k: form.cleaned_data[k] for k in ("start", "end", "period")}
        rows = reconciliation.reconcile(**window)
        page = Paginator(rows, RECONCILIATION_PAGE).get_page(request.GET.get("page"))
        reconciliation.attach_explanations(page.object_list, **window)
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            window=window,
            page=page,
            totals=reconciliation.totals(rows),
            query=query.urlencode(),
        )
    return render(request, "portfolio/portfolio_reconciliation.html", context)


@login_required
@require_GET
def export(request: HttpRequest, table: str) -> HttpResponse:
    """One table of the overview (or of the board pack, with ``month``) as CSV."""
    _require_portfolio(request)
    if table not in exports.TABLES:
        raise Http404("No such table.")
    filters = PortfolioFilterForm(request.GET, user=request.user).filters()
    today = utc_today()
    if request.GET.get("month"):
        month = parse_month(request.GET["month"], today=today)
        filters = Filters(team_id=filters.team_id, outcome=filters.outcome, month=month)
    data = build_overview(user=request.user, filters=filters, today=today)
    header, rows = exports.table_for(table, data)
    response = HttpResponse(
        exports.write_csv(header, rows), content_type="text/csv; charset=utf-8"
    )
    stamp = filters.month.strftime("%Y-%m") if filters.month else today.isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="portfolio-{table}-{stamp}.csv"'
    )
    return response


@login_required
@require_GET
def board_pack(request: HttpRequest) -> HttpResponse:
    """The month on printable pages: allocation, spend, estimates, flags, budgets."""
    _require_portfolio(request)
    today = utc_today()
    month = parse_month(request.GET.get("month"), today=today)
    team = PortfolioFilterForm(request.GET, user=request.user).filters().team_id
    filters = Filters(team_id=team, month=month)
    data = build_overview(user=request.user, filters=filters, today=today)
    query = request.GET.copy()
    query["month"] = month.strftime("%Y-%m")
    return render(
        request,
        "portfolio/portfolio_board_pack.html",
        {
            "overview": data,
            "figures": charts.overview_figures(data),
            "month": month,
            "is_current_month": month == today.replace(day=1),
            "query": query.urlencode(),
        },
    )


@login_required
@require_GET
def budget_list(request: HttpRequest) -> HttpResponse:
    _require_portfolio(request)
    statuses = budget_statuses(user=request.user)
    return render(
        request,
        "portfolio/budget_list.html",
        {
            "statuses": statuses,
            "figure": charts.budget_figure(statuses),
            "can_manage": can_manage_budgets(request.user),
        },
    )


@login_required
def budget_create(request: HttpRequest) -> HttpResponse:
    if not can_manage_budgets(request.user):
        raise PermissionDenied("Only platform and the board manage budgets.")
    form = BudgetForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.save_budget(
            budget=None, fields=form.fields_for_service(), by=request.user
        )
        messages.success(request, "Budget set.")
        return redirect("portfolio:budgets")
    return render(request, "portfolio/budget_form.html", {"form": form})


@login_required
def budget_edit(request: HttpRequest, pk: int) -> HttpResponse:
    budget = get_budget_for(request.user, pk, write=True)
    form = BudgetForm(request.POST or None, instance=budget, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.save_budget(
            budget=budget, fields=form.fields_for_service(), by=request.user
        )
        messages.success(request, "Budget changed.")
        return redirect("portfolio:budgets")
    return render(
        request, "portfolio/budget_form.html", {"form": form, "budget": budget}
    )


@login_required
@require_POST
def budget_delete(request: HttpRequest, pk: int) -> HttpResponse:
    budget = get_budget_for(request.user, pk, write=True)
    services.delete_budget(budget=budget, by=request.user)
    messages.success(request, "Budget removed.")
    return redirect("portfolio:budgets")


def _query(request: HttpRequest) -> str:
    """The filters as a query string, for CSV links and the board pack."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
