"""A node's store of filetracker files on disk, and the file lock everything here uses.

The layout is the stock client's cache (so stock tools such as
``filetracker-cache-cleaner`` also work on it)::

    <root>/files/<name>     the file; its mtime is its version, its atime its last use
    <root>/locks/<name>     its lock (flock): shared to read, exclusive to fill or remove

One entry per name: a newer version replaces an older one, never the other
way round.  Entries come in complete, by rename, under the exclusive lock,
so a reader holding the shared lock sees a whole file or none.

:class:`FileLock` is the one ``open`` + ``flock`` of the project's Python
core: the store's per-name locks, the node cache registry's lock and the
software sandboxes' lock (:mod:`sio.workers.sandbox`) are all made with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sio.workers import stats

__all__ = ['FileLock', 'locked', 'CacheStore', 'cache_dir_for', 'copy_fd']

_CHUNK = 1 << 20
#: Temporary files of transfers older than this (s) are leftovers, trimmed like entries.
_STALE_TMP_AGE = 3600.0
#: Prefix of the temporary files of transfers in progress (never served, never trimmed young).
TMP_PREFIX = '.ft-'


class FileLock:
    """An ``flock(2)`` lock on ``path`` (created, with its directory, if need
    be): shared or exclusive, converted either way while held, and held as
    long as this object keeps the file open.  Locks of one path exclude each
    other between processes and between threads (each object has its own
    open file description)."""

    def __init__(self, path: str | os.PathLike, mode: int = 0o600):
        self.path = Path(path)
        self.mode = mode
        self._fd: int | None = None

    def acquire(self, exclusive: bool = True, blocking: bool = True) -> bool:
        """Take the lock (or convert the one held); return whether it had to
        wait for it.  Without ``blocking`` a busy lock raises
        :class:`BlockingIOError` (and a lock this call opened is let go)."""
        opened = self._fd is None
        if opened:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, self.mode)
        operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            try:
                fcntl.flock(self._fd, operation | fcntl.LOCK_NB)
                return False
            except BlockingIOError:
                if not blocking:
                    raise
                fcntl.flock(self._fd, operation)
                return True
        except BaseException:
            if opened:
                self.release()
            raise

    def release(self) -> None:
        """Let the lock go (closing the file)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __repr__(self) -> str:
        return f'FileLock({str(self.path)!r}, held={self.held})'


@contextlib.contextmanager
def locked(path: str | os.PathLike, exclusive: bool = True, blocking: bool = True,
           mode: int = 0o600) -> Iterator[bool]:
    """Hold a :class:`FileLock` of ``path`` for the block; yields whether it
    had to wait for it."""
    lock = FileLock(path, mode)
    waited = lock.acquire(exclusive, blocking)
    try:
        yield waited
    finally:
        lock.release()


def cache_dir_for(url: str | None) -> Path:
    """This node's store for the filetracker server at ``url``:
    ``$SIO_FT_CACHE_DIR/ft_cache_<md5(url)>`` (default base
    ``~/.filetracker_cache``, as upstream).

    Without a URL it is the local-only store ``$FILETRACKER_DIR`` (default
    ``~/.filetracker-store``), as with a stock client."""
    if not url:
        return Path(os.environ.get('FILETRACKER_DIR') or Path.home() / '.filetracker-store')
    base = os.environ.get('SIO_FT_CACHE_DIR') or Path.home() / '.filetracker_cache'
    return Path(base) / ('ft_cache_' + hashlib.md5(url.encode()).hexdigest())


def copy_fd(src: int, dst: int) -> None:
    """Copy the rest of ``src`` to ``dst``, in the kernel where it can."""
    try:
        while os.sendfile(dst, src, None, _CHUNK):
            pass
    except OSError:
        while chunk := os.read(src, _CHUNK):
            os.write(dst, chunk)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class CacheStore:
    """The store in directory ``root`` (created if need be).

    Names are filetracker names without a version (``base``, e.g.
    ``/tests/1.in``); methods that read or change an entry say which lock of
    it their caller must hold."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / 'files').mkdir(parents=True, exist_ok=True)
        (self.root / 'locks').mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f'CacheStore({str(self.root)!r})'

    def path(self, base: str) -> Path:
        """Where the entry of ``base`` is."""
        return self.root / 'files' / base.lstrip('/')

    def lock(self, base: str, exclusive: bool, blocking: bool = True):
        """Hold the lock of ``base`` (a context manager yielding whether it had to wait)."""
        return locked(self.root / 'locks' / base.lstrip('/'), exclusive, blocking)

    def version(self, base: str) -> int | None:
        """The version of the entry of ``base``, or None."""
        try:
            return int(self.path(base).stat().st_mtime)
        except FileNotFoundError:
            return None

    def size(self, base: str, version: int) -> int | None:
        """Size of the entry ``base@version``; None when the store lacks that version."""
        try:
            st = self.path(base).stat()
        except FileNotFoundError:
            return None
        return st.st_size if int(st.st_mtime) == version else None

    def open(self, base: str, version: int) -> BinaryIO | None:
        """Open the entry ``base@version`` and record its use (counted as a
        hit); None when the store lacks that version.  The caller holds a lock
        of ``base``."""
        try:
            f = open(self.path(base), 'rb')
        except FileNotFoundError:
            return None
        st = os.fstat(f.fileno())
        if int(st.st_mtime) != version:
            f.close()
            return None
        # The use, for least-recently-used eviction; the mtime (the version) stays.
        with contextlib.suppress(OSError):
            os.utime(f.fileno(), ns=(time.time_ns(), st.st_mtime_ns))
        stats.count('ft_cache_hits')
        stats.count('ft_cache_hit_bytes', st.st_size)
        return f

    def tmp_dir(self, base: str) -> Path:
        """The directory for temporary files that become the entry of ``base``
        (beside it: a rename, never a copy)."""
        directory = self.path(base).parent
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def install(self, tmp: str | os.PathLike, base: str, version: int) -> Path:
        """Move the complete temporary file ``tmp`` in as ``base@version`` and
        return the entry's path — or ``tmp`` itself, left for the caller, when
        the store holds a newer version.  The caller holds the exclusive lock
        of ``base``."""
        current = self.version(base)
        if current is not None and current > version:
            return Path(tmp)
        os.utime(tmp, (time.time(), version))
        path = self.path(base)
        os.replace(tmp, path)
        return path

    def remove(self, base: str) -> None:
        """Remove the entry of ``base`` (taking its exclusive lock)."""
        with self.lock(base, exclusive=True):
            with contextlib.suppress(FileNotFoundError):
                self.path(base).unlink()

    def trim(self, max_bytes: int) -> int:
        """Evict least-recently-used entries until at most ``max_bytes``
        remain; return the number of bytes freed.  Entries in use (locked)
        and transfers in progress are skipped."""
        entries = []
        files = self.root / 'files'
        for root, _dirs, names in os.walk(files):
            for n in names:
                path = Path(root, n)
                if n.startswith(TMP_PREFIX) and _age(path) < _STALE_TMP_AGE:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = path.stat()
                    entries.append((st.st_atime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _atime, size, path in sorted(entries):
            if total - freed <= max_bytes:
                break
            try:
                with self.lock('/' + str(path.relative_to(files)), exclusive=True, blocking=False):
                    path.unlink()
                    freed += size
            except (BlockingIOError, FileNotFoundError):
                continue
        stats.count('ft_cache_evicted_bytes', freed)
        return freed
