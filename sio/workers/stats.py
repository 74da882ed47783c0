"""Counters and timings the core records for whoever exports them.

The core never imports Ray; it only counts here (cache hits, bytes fetched,
sandbox start-up overhead...).  A layer above takes what was recorded since
its last look with :func:`take` — ``sio_ray`` turns it into Ray metrics after
every job — and :func:`totals` gives the counters since the process started
(the node cache server's ``/stats``).

Names in use:

* ``ft_cache_hits``, ``ft_cache_misses``: files served from a node cache /
  fetched from the central server into it;
* ``ft_cache_stale``: files served from the node cache because the central
  server could not be asked for the current version;
* ``ft_cache_hit_bytes``, ``ft_cache_miss_bytes``: their sizes;
* ``ft_cache_evicted_bytes``: bytes evicted to keep the cache within its bound;
* ``sandbox_overhead_seconds`` (timing): time a box run took beyond the
  program's own wall time (starting and tearing down the box).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

__all__ = ['Recorded', 'count', 'observe', 'take', 'totals']

#: Timings kept between two :func:`take` calls (older ones are dropped).
MAX_TIMINGS = 10_000

_lock = threading.Lock()
_totals: Counter = Counter()
_pending: Counter = Counter()
_timings: dict[str, list[float]] = {}


@dataclass
class Recorded:
    """What was recorded between two :func:`take` calls."""

    counters: dict[str, float] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)


def count(name: str, amount: float = 1) -> None:
    """Add ``amount`` to counter ``name``."""
    with _lock:
        _totals[name] += amount
        _pending[name] += amount


def observe(name: str, value: float) -> None:
    """Record one timing (seconds) under ``name``."""
    with _lock:
        values = _timings.setdefault(name, [])
        if len(values) < MAX_TIMINGS:
            values.append(value)


def take() -> Recorded:
    """What was recorded since the last call (and forget it)."""
    global _timings
    with _lock:
        recorded = Recorded(dict(_pending), _timings)
        _pending.clear()
        _timings = {}
    return recorded


def totals() -> dict[str, float]:
    """Every counter since this process started."""
    with _lock:
        return dict(_totals)
