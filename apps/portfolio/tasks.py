from celery import shared_task

from . import services


@shared_task
def record_budget_alerts() -> int:
    """Audit the budgets whose month-end forecast passes them (once a month each)."""
    return len(services.record_budget_alerts())
