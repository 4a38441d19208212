"""`python manage.py reassess`: re-assess active use-cases where the answer changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.framework.catalogue import CatalogueMissing
from apps.framework.models import Trigger
from apps.framework.services import reassess_all
from apps.usecases.models import UseCase


class Command(BaseCommand):
    help = (
        "Re-assess every submitted, in-review, decided or live use-case with the "
        "current policy and prices; a new assessment is stored only where the "
        "answer changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--use-case",
            type=int,
            action="append",
            dest="use_cases",
            help="Only this use-case (repeatable).",
        )
        parser.add_argument(
            "--trigger",
            default=Trigger.MANUAL,
            choices=Trigger.values,
            help="Recorded as the reason for new assessments (default manual).",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        selected = None
        if options["use_cases"]:
            selected = list(
                UseCase.objects.filter(pk__in=options["use_cases"]).prefetch_related(
                    "workloads"
                )
            )
            missing = set(options["use_cases"]) - {u.pk for u in selected}
            if missing:
                raise CommandError(
                    f"No use-case {', '.join(map(str, sorted(missing)))}."
                )
        try:
            report = reassess_all(trigger=options["trigger"], use_cases=selected)
        except CatalogueMissing as exc:
            raise CommandError(f"{exc} Load it with seed_demo first.") from exc
        for assessment in report.created:
            self.stdout.write(
                f"#{assessment.use_case_id} {assessment.use_case}: "
                f"{assessment.get_outcome_display()}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.checked} use-case(s) checked, {len(report.created)} "
                f"re-assessed, {len(report.changed_outcome)} changed outcome."
            )
        )
