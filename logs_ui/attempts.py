"""A request's attempt chain, as the request page shows it: one row per attempt its config
made (gateway/configs/runner.py writes them), which one answered, and where the config lives.

The stored list is read defensively: it is JSON written by an older or newer Iris, possibly
cut (a degraded record), so any field may be missing or of another type.
"""

from dataclasses import dataclass

from django.urls import reverse

from gateway.configs.models import Config
from gateway.models import RequestLog

INLINE = "inline"  # gateway/configs/store.py's id of a config sent as JSON in the header


@dataclass
class Attempt:
    number: int  # 1-based, in the order they ran
    target: str  # "config.targets[1]"
    provider: str
    slug: str
    model: str
    status: int | None
    latency_ms: float | None
    retry: int  # 0 for the first try of its target
    fell_back: bool
    error: str
    skipped: str  # why it never reached the upstream, or ""
    cache: str  # HIT, MISS, REFRESH, DISABLED or ""
    answered: bool = False

    @property
    def tone(self) -> str:
        """The colour of its status, as the list colours a request's."""
        if self.skipped:
            return "none"
        if self.status is None:
            return "none"
        if self.status >= 500:
            return "bad"
        return "warn" if self.status >= 400 else "ok"


@dataclass
class Chain:
    attempts: list[Attempt]
    config_id: str
    config_url: str  # the saved config's admin page, or ""


def chain(log: RequestLog, *, admin: bool) -> Chain | None:
    """The attempts of a request routed by a config, or None for one that was not.
    `admin`: whether to link the saved config's admin page (the viewer is staff)."""
    stored = log.attempts if isinstance(log.attempts, list) else []
    rows = [a for a in stored if isinstance(a, dict)]
    if not rows and not log.config_id:
        return None
    attempts = [_attempt(n, row) for n, row in enumerate(rows, 1)]
    if attempts and (log.status_code or 0) < 400:
        last = attempts[-1]
        last.answered = not last.skipped and last.status is not None and last.status < 400
    return Chain(attempts, log.config_id, _config_url(log.config_id) if admin else "")


def _attempt(number: int, row: dict) -> Attempt:
    return Attempt(
        number=number,
        target=_text(row.get("target")),
        provider=_text(row.get("provider")),
        slug=_text(row.get("slug")),
        model=_text(row.get("model")),
        status=_int(row.get("status")),
        latency_ms=_number(row.get("latency_ms")),
        retry=_int(row.get("retry")) or 0,
        fell_back=row.get("fell_back") is True,
        error=_text(row.get("error")),
        skipped=_text(row.get("skipped")),
        cache=_text(row.get("cache")),
    )


def _config_url(config_id: str) -> str:
    if not config_id or config_id == INLINE:
        return ""
    pk = Config.objects.filter(slug=config_id).values_list("pk", flat=True).first()
    return reverse("admin:gateway_config_change", args=[pk]) if pk else ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
