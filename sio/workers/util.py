"""Small helpers shared by jobs: job directories, text repair, processes.

:func:`s2ms`, :func:`ms2s`, :func:`ceil_ms2s`, :func:`path_join_abs` and
:func:`is_exe` are upstream-compatibility surface: upstream's ``sio.workers.util``
offered them and plugins written for it import them; the project itself does
not use them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

_local = threading.local()


def s2ms(seconds: float) -> int:
    """Seconds to whole milliseconds (upstream compatibility).

    >>> s2ms(1.95)
    1950
    """
    return int(1000 * seconds)


def ms2s(milliseconds: float) -> float:
    """Milliseconds to seconds (upstream compatibility).

    >>> ms2s(1190)
    1.19
    """
    return milliseconds / 1000.0


def ceil_ms2s(milliseconds: int) -> int:
    """Milliseconds to whole seconds, rounding up (upstream compatibility).

    >>> ceil_ms2s(1000), ceil_ms2s(1001)
    (1, 2)
    """
    return int((milliseconds + 999) / 1000)


def path_join_abs(base: str, path: str) -> str:
    """Join ``path`` under ``base`` even when ``path`` is absolute (upstream compatibility).

    >>> path_join_abs('/usr', '/bin/sh')
    '/usr/bin/sh'
    """
    return os.path.join(base, path.lstrip('/'))


def replace_invalid_UTF(text: str | bytes) -> str:
    """Return ``text`` as valid UTF-8 text, invalid sequences replaced by U+FFFD.

    >>> replace_invalid_UTF(b'ok\\xff')
    'ok\\ufffd'
    """
    if isinstance(text, bytes):
        return text.decode('utf-8', errors='replace')
    return text.encode('utf-8', errors='replace').decode('utf-8', errors='replace')


def tempcwd(path: str | os.PathLike | None = None) -> str:
    """The current job's directory, or ``path`` inside it.

    An absolute ``path`` is returned unchanged, so ``tempcwd(tempcwd(x))`` is
    ``tempcwd(x)``.  Outside a job (a :class:`TemporaryCwd`) it raises
    :class:`RuntimeError`.
    """
    stack = getattr(_local, 'dirs', None)
    if not stack:
        raise RuntimeError('tempcwd() called outside of a job directory')
    if path is None:
        return stack[-1]
    return os.path.join(stack[-1], os.fspath(path))


class TemporaryCwd:
    """A fresh job directory, deleted (whatever happens) on exit.

    Entering creates ``sioworkers_*`` under the system temp dir, makes it the
    thread's :func:`tempcwd` and, with ``chdir=True``, the process's working
    directory; exiting restores both.  Nesting works.  Because the working
    directory is process-wide, callers that ``chdir`` from several threads
    must serialise (the runner does).
    """

    def __init__(self, chdir: bool = False):
        self.chdir = chdir
        self.path: str | None = None
        self._saved_cwd: str | None = None

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix='sioworkers_')
        _local.__dict__.setdefault('dirs', []).append(self.path)
        if self.chdir:
            try:
                self._saved_cwd = os.getcwd()
            except FileNotFoundError:
                self._saved_cwd = None
            os.chdir(self.path)
        return self.path

    def __exit__(self, *exc_info) -> None:
        _local.dirs.pop()
        if self.chdir:
            try:
                os.chdir(self._saved_cwd or '/')
            except OSError:
                os.chdir('/')
        rmtree(self.path)


def rmtree(path: str | os.PathLike) -> None:
    """Remove a tree, also where a job left read-only directories in it."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError:
        _make_writable(os.fspath(path))
        shutil.rmtree(path, ignore_errors=True)


def _make_writable(directory: str) -> None:
    try:
        os.chmod(directory, stat.S_IRWXU)
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _make_writable(entry.path)


def is_exe(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an executable regular file (upstream compatibility)."""
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def pid_alive(pid: object) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:  # a zombie (dead, not yet reaped by its parent) is not alive
        line = Path(f'/proc/{pid}/stat').read_text()
        return line[line.rindex(')') + 2] != 'Z'
    except (OSError, ValueError, IndexError):
        return True
