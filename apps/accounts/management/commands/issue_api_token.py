from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import ApiToken, User
from apps.accounts.services import issue_api_token


class Command(BaseCommand):
    help = (
        "Issue an API token for USERNAME and print it once; only its hash is kept. "
        "Revoke it with revoke_api_token or on the tokens page."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="the tool it is for")
        parser.add_argument(
            "--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ
        )
        parser.add_argument(
            "--days", type=int, default=90, help="days until expiry; 0 for none"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["days"] < 0:
            raise CommandError("--days must be 0 (no expiry) or more.")
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        if not user.is_active:
            raise CommandError(f"{user.username!r} is inactive; its token would fail.")
        _, key = issue_api_token(
            user=user,
            name=options["name"],
            scope=options["scope"],
            days=options["days"] or None,
            by=None,
        )
        # stdout carries the key alone, so scripts can capture it.
        self.stdout.write(key)
