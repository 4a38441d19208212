import datetime

from celery import shared_task

from . import conditions, periodic


def _day(today: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(today) if today else None


@shared_task
def mark_overdue_conditions(today: str | None = None) -> int:
    """Mark conditions past their due date overdue and notify (each once).

    `today` (ISO date) is for replays and tests; beat sends none.
    """
    return len(conditions.mark_overdue_conditions(today=_day(today)))


@shared_task
def announce_reviews_due(today: str | None = None) -> int:
    """Announce use-cases due for periodic review (once per due date)."""
    return periodic.announce_reviews_due(today=_day(today))
