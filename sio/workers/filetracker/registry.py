"""Which node cache server fills a cache directory: its registry.

A node cache server registers in the store it fills: ``node-cache.json``
there holds its ``url``, ``pid``, ``remote_url`` (the central server it
serves) and ``started`` (Unix seconds).  Jobs read it to send their misses
to the server; a registration counts while its process lives (a server
killed outright leaves it behind, naming a dead process).  At most one live
server is registered per directory: registering and unregistering hold the
lock ``locks/node-cache.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from sio.workers.filetracker.store import locked
from sio.workers.util import pid_alive

__all__ = ['REGISTRY_FILE', 'AlreadyRunning', 'Registry']

#: The registry's name in a cache directory.
REGISTRY_FILE = 'node-cache.json'


class AlreadyRunning(RuntimeError):
    """Another live node cache server is registered for the cache directory."""

    def __init__(self, url: str):
        super().__init__(f'a node cache server already runs for this cache at {url}')
        self.url = url


class Registry:
    """The registry of cache directory ``cache_dir``.

    :meth:`live_url` rereads the file only when it changed, so a job may ask
    before every download."""

    def __init__(self, cache_dir: str | os.PathLike):
        self.cache_dir = Path(cache_dir)
        self.path = self.cache_dir / REGISTRY_FILE
        self._seen: tuple | None = None
        self._entry: dict | None = None

    def read(self) -> dict | None:
        """The registration as written (live or not), or None."""
        try:
            st = self.path.stat()
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if key != self._seen:
                entry = json.loads(self.path.read_text())
                self._entry = entry if isinstance(entry, dict) else None
                self._seen = key
        except (OSError, ValueError):
            return None
        return self._entry

    def live_url(self, remote_url: str) -> str | None:
        """The URL of the live server registered for central server ``remote_url``, if any."""
        entry = self.read()
        if entry is None or entry.get('remote_url') != remote_url:
            return None
        return entry.get('url') if pid_alive(entry.get('pid')) else None

    def _lock(self):
        return locked(self.cache_dir / 'locks' / REGISTRY_FILE)

    def register(self, url: str, remote_url: str, started: float) -> None:
        """Register this process's server at ``url``; :class:`AlreadyRunning`
        when another live one is registered."""
        with self._lock():
            with contextlib.suppress(OSError, ValueError):
                other = json.loads(self.path.read_text())
                if pid_alive(other.get('pid')) and other.get('url') != url:
                    raise AlreadyRunning(other.get('url'))
            entry = {'url': url, 'pid': os.getpid(), 'remote_url': remote_url, 'started': started}
            tmp = self.path.with_name(f'.{REGISTRY_FILE}.{os.getpid()}')
            tmp.write_text(json.dumps(entry))
            try:
                os.replace(tmp, self.path)
            except BaseException:
                tmp.unlink()
                raise

    def unregister(self, url: str) -> None:
        """Remove the registration of the server at ``url`` (not another's)."""
        with self._lock():
            with contextlib.suppress(OSError, ValueError):
                if json.loads(self.path.read_text()).get('url') == url:
                    self.path.unlink()
