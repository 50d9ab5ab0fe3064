import math

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# On SIGTERM, open streams end themselves after GATEWAY_SHUTDOWN_GRACE_SECONDS (see
# gateway/shutdown.py: the hook is installed by the ASGI lifespan, so every worker process
# has it). uvicorn waits this much longer for their last event and for plain requests, then
# cancels what is left and runs the lifespan shutdown, which writes the queued log records.
SHUTDOWN_MARGIN_SECONDS = 5


class Command(BaseCommand):
    help = "Apply migrations, collect static files and serve Iris (ASGI, uvicorn)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument(
            "--access-log",
            action="store_true",
            help="Print one line per request (every request is logged to the database anyway).",
        )

    def handle(
        self, *args, host: str, port: int, workers: int, access_log: bool, **options
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else shown}:{port}"
        self.stdout.write(
            f"Iris is serving on {base}\n"
            f"  proxy (OpenAI-compatible): {base}/v1   e.g. POST {base}/v1/chat/completions\n"
            f"  logs UI:                   {base}/logs/\n"
            f"  admin:                     {base}/admin/\n"
            f"  health:                    {base}/healthz\n"
            f"  data:                      {settings.DATA_DIR}\n"
            "Create a gateway key with: python manage.py create_api_key NAME\n"
            "and a login for the UI with: python manage.py createsuperuser"
        )
        self.stdout.flush()
        uvicorn.run(
            "gateway.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="on",
            access_log=access_log,
            log_level="info",
            timeout_graceful_shutdown=graceful_shutdown_seconds(),
        )


def graceful_shutdown_seconds() -> int:
    """uvicorn's own limit: always past the streams' grace, so they end before it cancels."""
    return math.ceil(max(settings.GATEWAY_SHUTDOWN_GRACE_SECONDS, 0) + SHUTDOWN_MARGIN_SECONDS)
