"""Periodic lifecycle work; schedules live in portal/celery.py."""

from __future__ import annotations

from celery import shared_task

from . import candidates, comparisons, conformance, watch


@shared_task(name="apps.lifecycle.tasks.watch_deprecations", ignore_result=True)
def watch_deprecations() -> int:
    """Flag use-cases routed to models that are ending (once each)."""
    return len(watch.watch_deprecations())


@shared_task(name="apps.lifecycle.tasks.check_conformance", ignore_result=True)
def check_conformance() -> int:
    """Flag live traffic that strays from decisions; clear what conforms."""
    report = conformance.check_conformance()
    return len(report.flagged)


@shared_task(name="apps.lifecycle.tasks.propose_upgrades", ignore_result=True)
def propose_upgrades() -> int:
    """Propose comparisons for models an endpoint started serving."""
    return len(candidates.propose_upgrades())


@shared_task(name="apps.lifecycle.tasks.propose_model_upgrades", ignore_result=True)
def propose_model_upgrades(model_ids: list[int]) -> int:
    """Propose comparisons for models that just entered the catalogue."""
    return len(candidates.propose_upgrades(model_ids=model_ids))


@shared_task(
    name="apps.lifecycle.tasks.run_comparison", ignore_result=True, acks_late=True
)
def run_comparison(comparison_id: int) -> None:
    """Run a comparison's test sets on both sides and score them; a redelivery
    resumes where it stopped."""
    comparisons.execute_comparison(comparison_id=comparison_id)
