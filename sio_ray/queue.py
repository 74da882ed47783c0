"""The driver-side job queue with sioworkersd's priority rules.

Ray has no task priorities, so jobs wait here and only a small window of them
is handed to Ray at a time (:mod:`sio_ray.dispatcher`).  Order:

1. ``contest_priority``: strictly, higher first;
2. between contests (``contest_uid``) of equal priority: weighted random
   choice by ``contest_weight``, so every contest gets its share;
3. inside a contest: ``task_priority``, higher first;
4. then first in, first out.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CONTEST_PRIORITY = 0
DEFAULT_CONTEST_WEIGHT = 1000


def _number(environ: dict, key: str, default: float) -> float:
    value = environ.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'environ[{key!r}]: {value!r} is not a number')
    return value


def contest_of(environ: dict) -> str:
    uid = environ.get('contest_uid')
    if isinstance(uid, list):  # sioworkersd sends [instance, contest id]
        uid = ':'.join(str(p) for p in uid)
    return str(uid) if uid is not None else ''


@dataclass(order=True)
class _Entry:
    sort_key: tuple
    item: Any = field(compare=False)


class PriorityQueue:
    """Jobs ordered by the rules above; not thread-safe (the dispatcher locks)."""

    def __init__(self, rng: random.Random | None = None):
        self._contests: dict[tuple[float, str], list[_Entry]] = {}
        self._weights: dict[tuple[float, str], float] = {}
        self._counter = itertools.count()
        self._rng = rng or random.Random()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def check(environ: dict) -> None:
        """Raise :class:`ValueError` naming the key if the priority keys are bad."""
        for key, default in (('contest_priority', 0), ('contest_weight', 1),
                             ('task_priority', 0)):
            _number(environ, key, default)
        if _number(environ, 'contest_weight', DEFAULT_CONTEST_WEIGHT) <= 0:
            raise ValueError(f"environ['contest_weight']: {environ['contest_weight']!r} "
                             'must be positive')

    def push(self, environ: dict, item: Any) -> None:
        key = (_number(environ, 'contest_priority', DEFAULT_CONTEST_PRIORITY), contest_of(environ))
        self._weights[key] = _number(environ, 'contest_weight', DEFAULT_CONTEST_WEIGHT)
        entry = _Entry((-_number(environ, 'task_priority', 0), next(self._counter)), item)
        heapq.heappush(self._contests.setdefault(key, []), entry)
        self._size += 1
        self._chosen = None  # a new contest may now come first

    def peek(self) -> Any:
        """The next item (a contest is drawn by weight; the draw is kept until popped)."""
        if not self._size:
            raise IndexError('peek from an empty queue')
        key = self._choose()
        return self._contests[key][0].item

    def pop(self) -> Any:
        if not self._size:
            raise IndexError('pop from an empty queue')
        key = self._choose()
        self._chosen = None
        entry = heapq.heappop(self._contests[key])
        if not self._contests[key]:
            del self._contests[key]
            del self._weights[key]
        self._size -= 1
        return entry.item

    _chosen: tuple | None = None

    def _choose(self) -> tuple:
        if self._chosen in self._contests:
            return self._chosen
        top = max(priority for priority, _ in self._contests)
        candidates = [key for key in self._contests if key[0] == top]
        if len(candidates) == 1:
            self._chosen = candidates[0]
        else:
            weights = [self._weights[key] for key in candidates]
            self._chosen = self._rng.choices(candidates, weights)[0]
        return self._chosen

    def by_priority(self) -> dict[float, int]:
        """How many jobs wait at each contest priority, highest first."""
        counts: dict[float, int] = {}
        for (priority, _contest), entries in self._contests.items():
            counts[priority] = counts.get(priority, 0) + len(entries)
        return dict(sorted(counts.items(), reverse=True))

    def items(self) -> list[Any]:
        """Every queued item (in no particular order)."""
        return [entry.item for entries in self._contests.values() for entry in entries]

    def remove_if(self, predicate) -> list[Any]:
        """Take out (and return) every queued item for which ``predicate`` holds."""
        removed = []
        for key in list(self._contests):
            entries = self._contests[key]
            kept = [e for e in entries if not predicate(e.item)]
            removed += [e.item for e in entries if predicate(e.item)]
            if kept:
                heapq.heapify(kept)
                self._contests[key] = kept
            else:
                del self._contests[key]
                del self._weights[key]
        self._size -= len(removed)
        self._chosen = None
        return removed
