"""`python manage.py import_prices FILE`: refresh prices from a LiteLLM price file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalogue.services import import_litellm_prices


class Command(BaseCommand):
    help = (
        "Update catalogue prices from a LiteLLM model_prices_and_context_window.json "
        "file; every change keeps the old version and records a price snapshot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--date", help="Date the prices were taken (YYYY-MM-DD); default today."
        )
        parser.add_argument("--source", help="How to cite the file in the snapshot.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show the changes, save nothing."
        )
        parser.add_argument(
            "--add-family-members",
            action="store_true",
            help="Add the file's new chat models of a family already catalogued.",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        path: Path = options["file"]
        try:
            raw = path.read_bytes()
            prices = json.loads(raw)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not JSON: {exc}") from exc
        try:
            date = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError("--date must be YYYY-MM-DD") from exc
        digest = hashlib.sha256(raw).hexdigest()
        source = (
            options["source"] or f"LiteLLM price file {path.name} (sha256 {digest})"
        )
        try:
            report = import_litellm_prices(
                prices=prices,
                source=source,
                date=date,
                dry_run=options["dry_run"],
                add_family_members=options["add_family_members"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for key, changes in report.changed.items():
            for name, (old, new) in changes.items():
                self.stdout.write(f"{key}: {name} {old} → {new}")
        for key in report.added:
            self.stdout.write(f"{key}: added")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        if report.unmatched:
            self.stdout.write(
                "Not in the file (unchanged): " + ", ".join(report.unmatched)
            )
        verb = "would change" if options["dry_run"] else "changed"
        snapshot = f"; snapshot {report.snapshot.key}" if report.snapshot else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.matched)} model(s) matched, {len(report.changed)} "
                f"{verb}{snapshot}."
            )
        )
