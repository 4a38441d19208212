"""The Celery app and every periodic schedule, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "collect-due-endpoints": {
        "task": "apps.endpoints.tasks.collect_due_endpoints",
        # Often, so an endpoint whose claim lapsed is polled soon after; one query.
        "schedule": 15.0,
    },
    "flag-use-cases-for-reassessment": {
        "task": "apps.endpoints.tasks.flag_drifted_use_cases",
        "schedule": 3600.0,
    },
    "prune-usage-samples": {
        "task": "apps.endpoints.tasks.prune_usage_samples",
        "schedule": 86400.0,
    },
    "mark-overdue-conditions": {
        "task": "apps.reviews.tasks.mark_overdue_conditions",
        "schedule": 3600.0,
    },
    "announce-reviews-due": {
        "task": "apps.reviews.tasks.announce_reviews_due",
        "schedule": 86400.0,
    },
    # Model lifecycle (docs/lifecycle.md): conformance at the collection's pace.
    "check-decision-conformance": {
        "task": "apps.lifecycle.tasks.check_conformance",
        "schedule": 60.0,
    },
    "watch-model-deprecations": {
        "task": "apps.lifecycle.tasks.watch_deprecations",
        "schedule": 3600.0,
    },
    "propose-model-upgrades": {
        "task": "apps.lifecycle.tasks.propose_upgrades",
        "schedule": 3600.0,
    },
    "record-budget-alerts": {
        "task": "apps.portfolio.tasks.record_budget_alerts",
        "schedule": 3600.0,
    },
}
