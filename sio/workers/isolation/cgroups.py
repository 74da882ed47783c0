"""Per-run cgroups (v2, or the v1 ``memory``, ``pids`` and ``cpuacct`` controllers) for a box.

A run's cgroup limits memory (no swap) and the number of tasks, counts the
CPU time of everything in it (the kernel's own accounting: children the
program never waits for included), reports whether the kernel's OOM killer
struck, and kills everything left in it.  Where neither hierarchy is writable
(no root, no delegation) :func:`backend` is ``None`` and the executor falls
back to rlimits.

Moving a process into a cgroup waits for an RCU grace period when the
kernel's cgroup lock has been idle (about 13 ms on the development machine
after 50 ms without a migration, 0.1 ms back to back).  Where the cgroup v2
hierarchy is mounted and we are root, :func:`backend` remounts it with
``favordynmods`` (Linux 6.0+), which keeps that lock ready for writers, so
each run's migration costs about 0.25 ms even after a pause (forks and exits
become slightly dearer).  ``SIO_CGROUP_FAVORDYNMODS=0`` leaves the mount as
it is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
import uuid
from functools import lru_cache
from pathlib import Path

from sio.workers import settings


def root() -> Path:
    """Where the cgroup hierarchy is mounted (``$SIO_CGROUP_ROOT``, read now)."""
    return settings.CGROUP_ROOT.get()


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
    controllers = root() / 'cgroup.controllers'
    if not controllers.exists():
        return False
    if not {'memory', 'pids'} <= set(controllers.read_text().split()):
        return False
    try:
        (root() / PARENT).mkdir(exist_ok=True)
        _write(root() / 'cgroup.subtree_control', '+memory +pids')
        _write(root() / PARENT / 'cgroup.subtree_control', '+memory +pids')
        return _can_create_children(root() / PARENT)
    except OSError:
        return False


def _usable_v1() -> bool:
    try:
        return all(_can_create_children(root() / c / PARENT) for c in ('memory', 'pids'))
    except OSError:
        return False


@lru_cache(maxsize=None)
def _v1_cpuacct() -> bool:
    """Whether the v1 ``cpuacct`` controller is there for per-run CPU accounting."""
    try:
        return _can_create_children(root() / 'cpuacct' / PARENT)
    except OSError:
        return False


#: cgroup2's own mount options (kept when remounting without ``favordynmods``).
_CGROUP2_OPTIONS = ('nsdelegate', 'memory_localevents', 'memory_recursiveprot',
                    'memory_hugetlb_accounting', 'pids_localevents')
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 2, 4, 8, 32


def _cgroup2_mounts() -> list[tuple[str, list[str]]]:
    mounts = []
    with contextlib.suppress(OSError):
        for line in Path('/proc/self/mounts').read_text().splitlines():
            _, target, fstype, options, *_ = line.split()
            if fstype == 'cgroup2':
                mounts.append((target, options.split(',')))
    return mounts


def favordynmods() -> bool | None:
    """Whether the cgroup v2 hierarchy is mounted with ``favordynmods`` (None: no v2 mount)."""
    mounts = _cgroup2_mounts()
    return any('favordynmods' in options for _, options in mounts) if mounts else None


def set_favordynmods(enabled: bool) -> None:
    """Remount the cgroup v2 hierarchy with ``favordynmods`` on or off (root only).
    Turning it on keeps every other option (``mount`` merges them); turning it
    off (for comparisons in the benchmarks) passes the other cgroup2 options
    and mount flags back explicitly."""
    import ctypes
    for target, options in _cgroup2_mounts():
        if ('favordynmods' in options) == enabled:
            continue
        if enabled:
            subprocess.run(['mount', '-o', 'remount,favordynmods', target],
                           capture_output=True, timeout=10, check=True)
            continue
        flags = _MS_REMOUNT | sum(bit for name, bit in (('nosuid', _MS_NOSUID), ('nodev', _MS_NODEV),
                                                        ('noexec', _MS_NOEXEC)) if name in options)
        data = ','.join(o for o in options if o in _CGROUP2_OPTIONS)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(None, target.encode(), None, flags, data.encode()) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f'remounting {target}: {os.strerror(err)}')


def _favor_dynamic_modifications() -> None:
    """Turn ``favordynmods`` on (see the module docs) unless told not to."""
    if not settings.CGROUP_FAVORDYNMODS.get() or os.geteuid() != 0:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        set_favordynmods(True)


@lru_cache(maxsize=None)
def backend() -> str | None:
    """``'v2'``, ``'v1'`` or ``None``: which cgroup hierarchy boxes can use here."""
    if settings.NO_CGROUPS.get():
        return None
    kind = 'v2' if _usable_v2() else 'v1' if _usable_v1() else None
    if kind is not None:
        _favor_dynamic_modifications()
        _remove_orphans(kind)
    return kind


#: A run cgroup left empty this long (s) is a dead worker's, and is removed.
ORPHAN_AGE_S = 600


def _remove_orphans(kind: str) -> None:
    """Remove the run cgroups dead workers left: empty ones not touched for
    :data:`ORPHAN_AGE_S`.  (Never by their owner's pid: workers in other PID
    namespaces share the hierarchy, and a live run's group is empty for a
    moment before its program joins it.  What a dead worker's box left
    running dies with the box — its PID 1 or the launcher's parent-death
    signal — and leaves the group empty.)"""
    parents = [root() / PARENT] if kind == 'v2' else \
        [root() / c / PARENT for c in ('memory', 'pids', 'cpuacct')]
    now = time.time()
    for parent in parents:
        with contextlib.suppress(OSError):
            for d in parent.iterdir():
                if not d.name.startswith('run-') or not d.is_dir():
                    continue
                with contextlib.suppress(OSError):
                    if now - d.stat().st_mtime > ORPHAN_AGE_S and \
                            not (d / 'cgroup.procs').read_text().strip():
                        d.rmdir()  # fails (EBUSY) if a process joined meanwhile


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
            d = root() / PARENT / name
            d.mkdir()
            group = cls(kind, {'memory': d, 'pids': d})
            if memory_bytes:
                _write(d / 'memory.max', str(memory_bytes))
                with contextlib.suppress(OSError):
                    _write(d / 'memory.swap.max', '0')
            if max_tasks:
                _write(d / 'pids.max', str(max_tasks))
            return group
        controllers = ('memory', 'pids', 'cpuacct') if _v1_cpuacct() else ('memory', 'pids')
        dirs = {c: root() / c / PARENT / name for c in controllers}
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

    def cpu_file(self) -> tuple[Path, str] | None:
        """The run's CPU accounting file and its format (``ns``: cpuacct.usage,
        ``stat``: cpu.stat with ``usage_usec``), or None without one."""
        if self.kind == 'v2':
            return self.dirs['memory'] / 'cpu.stat', 'stat'
        if 'cpuacct' in self.dirs:
            return self.dirs['cpuacct'] / 'cpuacct.usage', 'ns'
        return None

    def cpu_us(self) -> int | None:
        """CPU time (user + system) of everything that ran in the group, µs."""
        found = self.cpu_file()
        if found is None:
            return None
        path, fmt = found
        if fmt == 'ns':
            value = _read_int(path, -1)
            return value // 1000 if value >= 0 else None
        return _flat_keys(path).get('usage_usec')

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
