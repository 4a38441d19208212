"""Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY."""

from django.core.management.base import BaseCommand, CommandError

from apps.core import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (fields named *_encrypted) under the first "
        "key of FIELD_ENCRYPTION_KEY, so the keys after it can be removed. Prints "
        "counts, never secrets; running it again changes nothing."
    )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        failed: list[str] = []
        for model, field in crypto.encrypted_fields():
            rotated = current = 0
            rows = model._default_manager.exclude(**{field: ""}).values_list(
                "pk", field
            )
            for pk, ciphertext in rows.iterator():
                if crypto.is_current(ciphertext):
                    current += 1
                    continue
                try:
                    fresh = crypto.rotate(ciphertext)
                except crypto.DecryptionError:
                    failed.append(f"{model._meta.label} {pk}")
                    continue
                # Only if unchanged meanwhile: a secret saved since is already current.
                # update(): no save() side effects for a value whose plaintext is same.
                rotated += model._default_manager.filter(
                    pk=pk, **{field: ciphertext}
                ).update(**{field: fresh})
            self.stdout.write(
                f"{model._meta.label}.{field}: {rotated} re-encrypted, "
                f"{current} already under the first key."
            )
        if failed:
            raise CommandError(
                f"{len(failed)} secret(s) open with none of the configured keys: "
                + ", ".join(failed)
            )
