from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gateway import crypto
from gateway.models import Provider


class Command(BaseCommand):
    help = (
        "Re-encrypt every provider's credentials under the first IRIS_ENCRYPTION_KEY. "
        "Rotate a key: put the new one first (IRIS_ENCRYPTION_KEY=new,old), run this, "
        "then drop the old one."
    )

    def handle(self, *args, **options) -> None:
        rotated = 0
        with transaction.atomic():
            for provider in Provider.objects.select_for_update().exclude(encrypted_credentials=""):
                try:
                    token = crypto.rotate(provider.encrypted_credentials)
                except crypto.DecryptionError as exc:
                    raise CommandError(f"@{provider.slug}: {exc}; nothing was changed.") from None
                provider.encrypted_credentials = token
                # save(), not update(): its signal makes every process drop its cached routes
                provider.save(update_fields=["encrypted_credentials"])
                rotated += 1
        self.stdout.write(f"Re-encrypted the credentials of {rotated} provider(s).")
