"""Percentiles of durations (latency, time to first token), exact or from a histogram.

Pure: no Django, no I/O. The analytics rollups (gateway/rollups.py) cannot keep every value,
so they keep a histogram per hour with these fixed bins, which add up across rows; a
percentile read from it is an estimate. The bins grow by 10^(1/8) (8 per decade, each bin
33% wider than the one before) from 10 ms to 10^6 ms (16.7 min), plus one bin below 10 ms and
one above. Inside a bin, values are taken as spread evenly (linear interpolation), so an
estimate is never further from the true percentile than its bin's width, and usually much
closer; above 10^6 ms it is the bin's lower edge, 1,000,000 ms.
"""

import math
from bisect import bisect_right
from collections.abc import Sequence

PER_DECADE = 8
FIRST_EDGE_MS = 10.0
DECADES = 5  # 10 ms … 10^6 ms
# EDGES[k] is the lower edge of bin k: bin 0 is [0, 10), the last bin [10^6, ∞).
EDGES: tuple[float, ...] = (0.0,) + tuple(
    FIRST_EDGE_MS * 10 ** (j / PER_DECADE) for j in range(PER_DECADE * DECADES + 1)
)
BINS = len(EDGES)  # 42


def bin_of(ms: float) -> int:
    """The bin a duration falls in (a negative one counts as 0)."""
    return max(0, bisect_right(EDGES, ms) - 1)


def upper(k: int) -> float:
    """The upper edge of bin k (infinite for the last)."""
    return EDGES[k + 1] if k + 1 < BINS else math.inf


def from_histogram(counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) estimated from per-bin counts; None when there are none.

    The rank is q·n (n = all counts); the bin where the running count reaches it is taken
    as evenly filled, so the value is lower + width · (rank − counts before) / count.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    before = 0
    for k, count in enumerate(counts):
        if count and before + count >= rank:
            if math.isinf(upper(k)):
                return EDGES[k]
            share = max(rank - before, 0) / count
            return EDGES[k] + (upper(k) - EDGES[k]) * share
        before += count
    return None  # unreachable: the last non-empty bin reaches any rank ≤ total


def exact(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolating linearly between the two closest ranks
    (NumPy's default "linear" method, PostgreSQL's percentile_cont); None when empty."""
    if not ordered:
        return None
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])
