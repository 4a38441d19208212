"""`python manage.py collect_usage [--once] [--endpoint ID]`: poll inline, no worker."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.endpoints import services
from apps.endpoints.models import ServingEndpoint


class Command(BaseCommand):
    help = (
        "Poll serving endpoints for usage in this process: the due ones (or the one "
        "given), once or every minute, as the beat tick and worker would."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Poll once and exit (default: loop)."
        )
        parser.add_argument(
            "--endpoint",
            type=int,
            action="append",
            dest="endpoints",
            metavar="ID",
            help="Poll this endpoint now, due or not (repeatable).",
        )
        parser.add_argument(
            "--concurrency", type=int, default=None, help="Parallel polls."
        )
        parser.add_argument(
            "--interval", type=float, default=60.0, help="Seconds between loops."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["endpoints"]
        if ids:
            missing = set(ids) - set(
                ServingEndpoint.objects.filter(pk__in=ids).values_list("pk", flat=True)
            )
            if missing:
                raise CommandError(f"No endpoint with id {sorted(missing)}.")
        once = options["once"] or bool(ids)
        while True:
            results = services.collect_endpoints_inline(
                endpoint_ids=ids, concurrency=options["concurrency"]
            )
            for result in results:
                if result.ok:
                    self.stdout.write(
                        f"endpoint {result.endpoint_id}: ok, {result.readings} readings"
                    )
                else:
                    self.stderr.write(
                        f"endpoint {result.endpoint_id}: {result.message}"
                    )
            if not results:
                self.stdout.write("No endpoint is due.")
            if once:
                return
            time.sleep(options["interval"])
