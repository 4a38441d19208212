import importlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

# Each app's seed module, in dependency order; each is idempotent on its own.
SEED_MODULES = [
    "apps.accounts.seed",
    "apps.catalogue.seed",
    "apps.framework.seed",
    "apps.usecases.seed",
    "apps.risk.seed",
    "apps.reviews.seed",
    "apps.endpoints.seed",
    "apps.portfolio.seed",
    "apps.playground.seed",
    "apps.gateway.seed",
]


class Command(BaseCommand):
    help = "Load demo teams, users (password 'demo'), use-cases and endpoints."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates users with known passwords: DEBUG only."
            )
        context: dict = {}
        # The demo's history triggers notifications; nobody should receive them.
        quiet = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"
        )
        with quiet, transaction.atomic():
            for name in SEED_MODULES:
                try:
                    module = importlib.import_module(name)
                except ModuleNotFoundError as exc:
                    if exc.name != name:
                        raise
                    continue
                module.seed_demo(context)
        # Lines the seeds report once committed (the demo gateway key, say).
        for line in context.get("report", []):
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS("Demo data ready. Sign in as requester / demo.")
        )
