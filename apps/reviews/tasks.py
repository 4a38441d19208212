from celery import shared_task

from . import conditions, periodic


@shared_task
def mark_overdue_conditions() -> int:
    """Mark conditions past their due date overdue and notify (each once)."""
    return len(conditions.mark_overdue_conditions())


@shared_task
def announce_reviews_due() -> int:
    """Announce use-cases due for periodic review (once per due date)."""
    return periodic.announce_reviews_due()
