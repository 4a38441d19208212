"""The one place that decides who reads the portfolio and who manages budgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.accounts.roles import Role

from .models import Budget

if TYPE_CHECKING:
    from apps.accounts.models import User

#: Roles that open the portfolio (a requester sees their team's part of it).
PORTFOLIO_ROLES = tuple(str(role) for role in Role)


def can_view_portfolio(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.has_role(*PORTFOLIO_ROLES))
    )


def can_view_reconciliation(user: User) -> bool:
    """Provider bills are not split by use-case, so only those who read every
    use-case see them: the board, platform, procurement and auditors."""
    return bool(can_view_portfolio(user) and user.reads_everything)


def can_manage_budgets(user: User) -> bool:
    """Platform and the board (and superusers) set budgets."""
    return bool(user.is_active and user.has_perm("portfolio.change_budget"))


def get_budget_for(user: User, pk: int | str, *, write: bool = False) -> Budget:
    """The budget if the user may see it, else 404; with ``write``, 403 unless the
    user manages budgets."""
    try:
        budget = Budget.objects.visible_to(user).for_list().get(pk=pk)
    except (Budget.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such budget.") from exc
    if write and not can_manage_budgets(user):
        raise PermissionDenied("Only platform and the board manage budgets.")
    return budget
