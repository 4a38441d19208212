from django.core.management.base import BaseCommand, CommandError

from apps.accounts import throttle


class Command(BaseCommand):
    help = (
        "Lift a sign-in lockout before it expires, for an account and/or an address "
        "(the break-glass path when the superuser is locked out)."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username", nargs="?", default="", help="the account")
        parser.add_argument("--address", default="", help="a client IP address")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        username, address = options["username"], options["address"]
        if not (username or address):
            raise CommandError("Name an account, an --address, or both.")
        throttle.clear(username=username, address=address)
        lifted = " and ".join(
            part
            for part in (username and f"account {username!r}", address and address)
            if part
        )
        self.stdout.write(f"Sign-in lockouts lifted for {lifted}.")
