"""Plugin lookup: jobs, filters, compilers and requirement hooks are entry points.

Groups used by the core: ``sio.jobs`` (job functions), ``sio.workers.filters``
(pre/post filters), ``sio.compilers`` (compilers) and
``sio.workers.requirements`` (what a job type needs from a node).  The
project's own plugins register exactly as a third-party package would.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

logger = logging.getLogger(__name__)

JOBS = 'sio.jobs'
FILTERS = 'sio.workers.filters'
COMPILERS = 'sio.compilers'
REQUIREMENTS = 'sio.workers.requirements'

_KIND = {JOBS: 'job', FILTERS: 'filter', COMPILERS: 'compiler', REQUIREMENTS: 'requirements hook'}
_cache: dict[str, list[EntryPoint]] = {}


class PluginNotFound(LookupError):
    """No installed entry point of that name (the message lists the known ones)."""


def _entry_points(group: str, refresh: bool = False) -> list[EntryPoint]:
    if refresh or group not in _cache:
        _cache[group] = list(entry_points(group=group))
    return _cache[group]


def names(group: str) -> list[str]:
    """Sorted names registered in ``group``."""
    return sorted({ep.name for ep in _entry_points(group, refresh=True)})


def find(group: str, name: str, rescan: bool = True) -> Any | None:
    """The first entry point ``name`` of ``group`` that imports, or None.

    Entry points that fail to import are logged and skipped (upstream
    ``first_entry_point``).  Installed plugins are cached; an unknown name
    rescans once (unless ``rescan`` is false, for groups where most names
    have no entry), so packages installed while the process runs are found.
    """
    for refresh in (False, True) if rescan else (False,):
        for ep in _entry_points(group, refresh):
            if ep.name != name:
                continue
            try:
                return ep.load()
            except Exception:
                logger.exception('Cannot load entry point %s:%s (%s)', group, name, ep.value)
        if any(ep.name == name for ep in _entry_points(group)):
            return None
    return None


def load(group: str, name: str) -> Any:
    """Like :func:`find`, but raise :class:`PluginNotFound` naming the known ones."""
    obj = find(group, name)
    if obj is None:
        known = ', '.join(names(group)) or '(none installed)'
        kind = _KIND.get(group, 'plugin')
        raise PluginNotFound(f'unknown {kind} {name!r} (entry-point group {group}); known: {known}')
    return obj
