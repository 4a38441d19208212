from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print it once; only its hash is kept."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument(
            "--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ
        )
        parser.add_argument(
            "--days", type=int, default=90, help="days until expiry; 0 for none"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        _, key = ApiToken.issue(
            user=user,
            name=options["name"],
            scope=options["scope"],
            days=options["days"] or None,
        )
        self.stdout.write(key)
