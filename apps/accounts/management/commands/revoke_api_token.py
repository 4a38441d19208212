from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import ApiToken
from apps.accounts.services import revoke_api_token


class Command(BaseCommand):
    help = "Revoke an API token, named by its key prefix (aip_…, as listed) or id."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("token", help="the key prefix, the whole key, or the id")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        given = options["token"]
        tokens = ApiToken.objects.select_related("user")
        if given.isdigit():
            matches = list(tokens.filter(pk=int(given)))
        else:
            matches = list(tokens.filter(key_prefix=given[:12]))
            if len(given) > 12:  # a whole key: exactly that one
                matches = [t for t in matches if t.key_hash == ApiToken.hash_key(given)]
        if not matches:
            raise CommandError(f"No token matches {given!r}.")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} tokens match {given!r}; give the id.")
        token = matches[0]
        if revoke_api_token(token=token, by=None):
            self.stdout.write(f"Revoked {token}.")
        else:
            self.stdout.write(f"{token} was already revoked.")
