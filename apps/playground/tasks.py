"""Background work of the playground: test set runs."""

from __future__ import annotations

from celery import shared_task

from . import judge, services


@shared_task(acks_late=True)
def run_test_set(test_set_run_id: int) -> None:
    """Run a test set against its candidates; a redelivery resumes where it stopped."""
    services.execute_test_set_run(run_id=test_set_run_id)
    judge.grade_run(run_id=test_set_run_id)
