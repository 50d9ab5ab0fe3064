"""The admin's ModelPrice rows, read by the log writer for every record: kept in memory and
read again at most every TTL seconds, or at once after a row is saved or deleted in this
process (post_save/post_delete). A lookup is a dict get and a short scan of the prefixes.

When the database cannot be read (down, locked), the last table read stays in use; with none,
lookups raise PricesUnavailable (the cost is then unknown) until the next try, TTL seconds
later: a database outage costs one failed query per TTL, not one per record."""

import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save

from gateway.models import ModelPrice

log = logging.getLogger(__name__)
TTL = 5.0  # seconds: how long a row saved by another process may go unseen


class PricesUnavailable(RuntimeError):
    """The admin's prices could not be read and none were read before."""


# ModelPrice field → the breakdown's kind it prices.
FIELDS = {
    "input_per_mtok": "input",
    "cached_input_per_mtok": "cached_input",
    "output_per_mtok": "output",
    "image_input_per_mtok": "image_input",
    "image_output_per_mtok": "image_output",
    "per_image": "images",
}


@dataclass(frozen=True)
class Override:
    provider: str
    model: str  # as the admin wrote it, "gpt-4o" or "gpt-4o*"
    prices: dict[str, Decimal]  # kind → USD per million tokens (per image for "images")

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True)
class _Table:
    exact: dict[tuple[str, str], Override]
    prefixes: dict[str, list[tuple[str, Override]]]  # provider → (prefix, row), longest first
    loaded: float
    failed: bool = False  # a stand-in after a failed read: lookups raise until the retry


_table: _Table | None = None
_generation = 0  # bumped by each save or delete: a load that overlapped one is not kept
_lock = threading.Lock()


def find(provider: str, model: str) -> Override | None:
    """The admin's price for a provider's model: the exact row, else the longest prefix row
    (`model*`) that the model starts with. Raises PricesUnavailable (see the module's doc)."""
    table = _current()
    if table.failed:
        raise PricesUnavailable("the admin's model prices could not be read")
    if (row := table.exact.get((provider, model))) is not None:
        return row
    for prefix, row in table.prefixes.get(provider, ()):
        if model.startswith(prefix):
            return row
    return None


def _current() -> _Table:
    table = _table
    if table is None or time.monotonic() - table.loaded > TTL:
        with _lock:
            table = _table
            if table is None or time.monotonic() - table.loaded > TTL:
                table = _load_or_keep(table)
    return table


def _load_or_keep(stale: _Table | None) -> _Table:
    global _table
    try:
        return _load()
    except DatabaseError as exc:
        log.warning("model prices not read (%s): retrying in %.0f s", exc, TTL)
        kept = stale or _Table({}, {}, 0.0, failed=True)
        _table = _Table(kept.exact, kept.prefixes, time.monotonic(), kept.failed)
        return _table


def _load() -> _Table:
    global _table
    generation = _generation
    exact: dict[tuple[str, str], Override] = {}
    prefixes: dict[str, list[tuple[str, Override]]] = {}
    for row in ModelPrice.objects.all():
        prices = {
            kind: getattr(row, f) for f, kind in FIELDS.items() if getattr(row, f) is not None
        }
        override = Override(row.provider, row.model, prices)
        if row.model.endswith("*"):
            prefixes.setdefault(row.provider, []).append((row.model[:-1], override))
        else:
            exact[(row.provider, row.model)] = override
    for rows in prefixes.values():
        rows.sort(key=lambda item: len(item[0]), reverse=True)
    table = _Table(exact, prefixes, time.monotonic())
    if generation == _generation:
        _table = table
    return table


def invalidate(**_kwargs) -> None:
    global _table, _generation
    _generation += 1
    _table = None


post_save.connect(invalidate, sender=ModelPrice, dispatch_uid="iris_price_overrides_save")
post_delete.connect(invalidate, sender=ModelPrice, dispatch_uid="iris_price_overrides_delete")
