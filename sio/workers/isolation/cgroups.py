"""Per-run cgroups (v2, or the v1 ``memory`` and ``pids`` controllers) for a box.

A run's cgroup limits memory (no swap) and the number of tasks, reports
whether the kernel's OOM killer struck, and kills everything left in it.
Where neither hierarchy is writable (no root, no delegation) :func:`backend`
is ``None`` and the executor falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
import uuid
from functools import lru_cache
from pathlib import Path

ROOT = Path(os.environ.get('SIO_CGROUP_ROOT', '/sys/fs/cgroup'))
PARENT = 'sio-box'


def _write(path: Path, value: str) -> None:
    with open(path, 'w') as f:
        f.write(value)


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _flat_keys(path: Path) -> dict[str, int]:
    result = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(' ')
            with contextlib.suppress(ValueError):
                result[key] = int(value)
    return result


def _can_create_children(parent: Path) -> bool:
    """Create ``parent`` if needed and try a child group in it."""
    probe = parent / f'probe-{os.getpid()}'
    parent.mkdir(exist_ok=True)
    probe.mkdir()
    probe.rmdir()
    return True


def _usable_v2() -> bool:
    controllers = ROOT / 'cgroup.controllers'
    if not controllers.exists():
        return False
    if not {'memory', 'pids'} <= set(controllers.read_text().split()):
        return False
    try:
        (ROOT / PARENT).mkdir(exist_ok=True)
        _write(ROOT / 'cgroup.subtree_control', '+memory +pids')
        _write(ROOT / PARENT / 'cgroup.subtree_control', '+memory +pids')
        return _can_create_children(ROOT / PARENT)
    except OSError:
        return False


def _usable_v1() -> bool:
    try:
        return all(_can_create_children(ROOT / c / PARENT) for c in ('memory', 'pids'))
    except OSError:
        return False


@lru_cache(maxsize=None)
def backend() -> str | None:
    """``'v2'``, ``'v1'`` or ``None``: which cgroup hierarchy boxes can use here."""
    if os.environ.get('SIO_NO_CGROUPS'):
        return None
    if _usable_v2():
        return 'v2'
    if _usable_v1():
        return 'v1'
    return None


class RunCgroup:
    """The cgroup of one box run; create with :meth:`create`, always :meth:`remove`."""

    def __init__(self, kind: str, dirs: dict[str, Path]):
        self.kind = kind
        self.dirs = dirs

    @classmethod
    def create(cls, memory_bytes: int | None, max_tasks: int | None) -> 'RunCgroup':
        kind = backend()
        if kind is None:
            raise RuntimeError('no usable cgroup hierarchy')
        name = f'run-{os.getpid()}-{uuid.uuid4().hex[:12]}'
        if kind == 'v2':
            d = ROOT / PARENT / name
            d.mkdir()
            group = cls(kind, {'memory': d, 'pids': d})
            if memory_bytes:
                _write(d / 'memory.max', str(memory_bytes))
                with contextlib.suppress(OSError):
                    _write(d / 'memory.swap.max', '0')
            if max_tasks:
                _write(d / 'pids.max', str(max_tasks))
            return group
        dirs = {c: ROOT / c / PARENT / name for c in ('memory', 'pids')}
        group = cls(kind, {})
        try:
            for controller, d in dirs.items():
                d.mkdir()
                group.dirs[controller] = d
            mem = dirs['memory']
            if memory_bytes:
                _write(mem / 'memory.limit_in_bytes', str(memory_bytes))
                with contextlib.suppress(OSError):  # swap accounting may be off
                    _write(mem / 'memory.memsw.limit_in_bytes', str(memory_bytes))
            if max_tasks:
                _write(dirs['pids'] / 'pids.max', str(max_tasks))
        except BaseException:
            group.remove()
            raise
        return group

    def oom_killed(self) -> bool:
        """Whether the OOM killer killed something in the group."""
        d = self.dirs['memory']
        if self.kind == 'v2':
            return _flat_keys(d / 'memory.events').get('oom_kill', 0) > 0
        return _flat_keys(d / 'memory.oom_control').get('oom_kill', 0) > 0

    def peak_kib(self) -> int:
        """Peak memory of the group in KiB (includes page cache)."""
        d = self.dirs['memory']
        name = 'memory.peak' if self.kind == 'v2' else 'memory.max_usage_in_bytes'
        return _read_int(d / name) // 1024

    def pids(self) -> list[int]:
        return [int(p) for p in (self.dirs['pids'] / 'cgroup.procs').read_text().split()]

    def kill_all(self) -> None:
        """SIGKILL every process in the group."""
        d = self.dirs.get('pids')
        if d is None:
            return
        if self.kind == 'v2' and (d / 'cgroup.kill').exists():
            with contextlib.suppress(OSError):
                _write(d / 'cgroup.kill', '1')
            return
        for _ in range(100):  # v1: processes may fork while we kill; repeat until empty
            try:
                pids = self.pids()
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def remove(self) -> None:
        """Kill what is left and delete the group."""
        self.kill_all()
        for d in set(self.dirs.values()):
            for attempt in range(200):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 199:
                        raise
                    time.sleep(0.005)  # dying tasks leave a moment later
