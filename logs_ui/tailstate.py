"""What the live tail has shown, carried in its poller's URL, so that no row is skipped.

Ids are assigned at INSERT and rows become visible at COMMIT. With several replicas writing
batches into PostgreSQL, a transaction holding lower ids can commit after one holding higher
ids: a tail that only asks for `id > newest shown` skips those rows for good. So the tail
keeps a floor (`floor`: every id at or below it is settled: shown, or never to match) and the
ids above it it has already shown (`shown`, as ranges relative to the floor), and asks for
everything above the floor that it has not shown. `after` stays the newest id shown; a poll
that sends only `after` (the tail before this) treats it as the floor.

The floor moves up by settling: `mark` is the highest id visible at time `mark_at`; every id
at or below it was allocated by then, so once LOGS_TAIL_SETTLE_SECONDS have passed its
transaction has ended (the log writer's transactions last milliseconds) and the next query
sees it. SQLite serializes writers, so there ids commit in order; the same logic is harmless.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MAX_RANGES = 400  # keeps the poller's URL under ~4 KB; past it the oldest shown ids settle


@dataclass
class TailState:
    floor: int = 0
    shown: list[int] = field(default_factory=list)  # ascending ids above the floor
    mark: int | None = None
    mark_at: float = 0.0

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> "TailState":
        """From the poller's query string; anything malformed counts as absent."""
        floor = _int(query.get("floor"))
        floor = max(_int(query.get("after")) or 0 if floor is None else floor, 0)
        state = cls(floor=floor, mark=_int(query.get("mark")))
        state.mark_at = float(_int(query.get("mark_at")) or 0)
        state.shown = sorted({floor + i for i in _offsets(query.get("shown", "")) if i > 0})
        state.bound()  # before any query: a hand-made URL must not cost thousands of ranges
        return state

    def saw(self, ids: Iterable[int]) -> None:
        self.shown = sorted(set(self.shown).union(i for i in ids if i > self.floor))

    def settle(self, floor: int) -> None:
        """Every id at or below `floor` is now shown or will never match."""
        if floor > self.floor:
            self.floor = floor
            self.shown = [i for i in self.shown if i > floor]

    def ranges(self) -> list[tuple[int, int]]:
        """The shown ids as inclusive (first, last) runs."""
        runs: list[tuple[int, int]] = []
        for i in self.shown:
            if runs and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        return runs

    def bound(self) -> None:
        """Past MAX_RANGES runs, settle the oldest (a row committed that late is then missed)."""
        runs = self.ranges()
        if len(runs) > MAX_RANGES:
            self.settle(runs[-MAX_RANGES - 1][1])

    def query(self) -> dict[str, str]:
        """The parameters the next poll sends."""
        base = self.floor
        shown = ".".join(
            f"{a - base}" if a == b else f"{a - base}-{b - base}" for a, b in self.ranges()
        )
        newest = self.shown[-1] if self.shown else base
        out = {"after": str(newest), "floor": str(base), "shown": shown}
        if self.mark is not None:
            out.update(mark=str(self.mark), mark_at=str(int(self.mark_at)))
        return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _offsets(text: str) -> Iterable[int]:
    count = 0
    for part in text.split("."):
        first, _, last = part.partition("-")
        a, b = _int(first), _int(last) if last else _int(first)
        if a is None or b is None or b < a:
            continue
        count += b - a + 1
        if count > 100_000:  # a hand-made URL must not cost a huge set
            return
        yield from range(a, b + 1)


def first_state(newest: int, rows: list, now: float) -> TailState:
    """The tail's start on a freshly rendered list: the page's rows count as shown (a row
    still uncommitted below the newest can then arrive); paged or sorted lists start above
    the newest id."""
    if rows and rows[0].id == newest:
        state = TailState(floor=rows[-1].id, mark=newest, mark_at=now)
        state.saw(row.id for row in rows)
        return state
    return TailState(floor=newest, mark=newest, mark_at=now)
