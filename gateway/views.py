from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from gateway import fastpath, replicas
from gateway import log as request_log
from gateway.configs import cache
from gateway.log import blobs, health


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: can we query the database and write to blob storage, and are
    log records being written? 503 when any of them is not so (this process's writer)."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        blobs.probe()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    log = request_log.status()
    checks["log"] = "ok" if not (problem := health.problem(log)) else f"error: {problem}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            **checks,
            "log_writer": log,
            # Counted, not judged: a cache outage costs hits, never answers (gateway/configs/).
            "response_cache_failures": dict(cache.failures),
            # Likewise: a failing bus costs up to the caches' TTL of staleness (gateway/replicas.py)
            "cache_invalidation": replicas.status(),
            "url_snapshots": request_log.snapshot_status(),  # GATEWAY_SNAPSHOT_MAX_BYTES
            "request_bodies_in_flight": fastpath.InFlight.status(),  # and refused past it
        },
        status=200 if healthy else 503,
    )
