"""One run of a program in a box: bubblewrap + the launcher + a cgroup.

The box has its own user, PID, network, IPC, UTS and mount namespaces.  Its file system is an empty read-only root holding the box
directory (``/box``, writable, the working directory), ``/proc``, a minimal
``/dev``, the launcher, and — for dynamically linked programs — the dynamic
loader and libraries, read-only.  Nothing else of the host is visible.  When
the worker runs as root, the box runs as an unprivileged user
(``$SIO_BOX_UID``, default 65534), never as root.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sio.workers import stats
from sio.workers.isolation import cgroups
from sio.workers.isolation.launcher import launcher_binary

#: Where a box finds its directory and the launcher.
BOX_DIR = '/box'
_LAUNCHER = '/.launcher'
_SYSTEM_LIBS = ('/usr/lib', '/usr/lib64', '/usr/lib32', '/lib', '/lib64', '/lib32', '/usr/libx32')
DEFAULT_MAX_TASKS = 64


class BoxError(RuntimeError):
    """The box itself could not run (a system error, not the program's fault)."""


class Cancelled(Exception):
    """The run was stopped because its ``cancel`` event was set."""


@dataclass
class BoxRequest:
    """What to run in a box and under which limits (times in ms, sizes in bytes)."""

    argv: list[str]
    box_dir: Path
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    time_limit_ms: int | None = None
    real_time_limit_ms: int | None = None
    memory_bytes: int | None = None
    output_limit: int | None = None
    max_tasks: int = DEFAULT_MAX_TASKS
    #: Extra read-only binds ``(host path, path in the box)``.
    ro_binds: list[tuple[str, str]] = field(default_factory=list)
    #: Bind the dynamic loader and system libraries.
    system_libs: bool = True
    seccomp: bool = True
    pass_fds: tuple[int, ...] = ()
    #: The caller's fds to close as soon as the program started (pipe ends it handed over).
    fds_to_close: tuple[int, ...] = ()
    #: Run in a box; False runs the launcher directly on the host (unprotected).
    isolated: bool = True
    #: Let the program start other programs (a compiler's passes); otherwise one execve only.
    allow_exec: bool = False
    #: Let it create sockets of any family (the box has no network either way).
    allow_sockets: bool = False
    #: Count user-space instructions (needs a hardware PMU); stop beyond the limit.
    count_instructions: bool = False
    instruction_limit: int | None = None
    #: Set from another thread to stop the run at once (:class:`Cancelled` is raised).
    cancel: threading.Event | None = None


@dataclass
class BoxOutcome:
    """What happened in the box (raw facts; executors turn them into verdicts)."""

    exited: bool
    exit_code: int | None
    signal: int | None
    cpu_us: int
    wall_us: int
    maxrss_kib: int
    time_limit_hit: bool
    wall_killed: bool
    oom_killed: bool
    forbidden_syscall: str | None
    error: str | None
    #: How memory/process limits were enforced: ``cgroup-v2``, ``cgroup-v1`` or ``rlimit``.
    enforced_by: str
    #: User-space instructions of the program tree, when counted.
    instructions: int | None = None


def _box_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    uid = int(os.environ.get('SIO_BOX_UID', 65534))
    return uid, int(os.environ.get('SIO_BOX_GID', uid))


def _prepare_dir(box_dir: Path, user: tuple[int, int] | None) -> None:
    """Make the box directory the box user's, and reachable for bubblewrap."""
    if user is None:
        return
    for root, dirs, files in os.walk(box_dir):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), *user)
    os.chown(box_dir, *user)
    tmp = Path(tempfile.gettempdir()).resolve()
    for parent in box_dir.resolve().parents:
        if parent == tmp or tmp not in parent.parents:
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o001)  # traverse only, no listing


@functools.lru_cache(maxsize=None)
def _lib_binds() -> tuple[str, ...]:
    """bwrap arguments for the loader and libraries (the host's layout, read once)."""
    args = []
    for path in _SYSTEM_LIBS:
        if os.path.islink(path):
            args += ['--symlink', os.readlink(path), path]
        elif os.path.isdir(path):
            args += ['--ro-bind', path, path]
    return tuple(args)


def is_static_elf(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an ELF executable without a dynamic loader (PT_INTERP)."""
    try:
        with open(path, 'rb') as f:
            header = f.read(64)
            if len(header) < 64 or header[:4] != b'\x7fELF':
                return False
            is64, little = header[4] == 2, header[5] == 1
            order = '<' if little else '>'
            if is64:
                phoff, = struct.unpack_from(order + 'Q', header, 32)
                phentsize, phnum = struct.unpack_from(order + 'HH', header, 54)
            else:
                phoff, = struct.unpack_from(order + 'I', header, 28)
                phentsize, phnum = struct.unpack_from(order + 'HH', header, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        p_type, = struct.unpack_from(order + 'I', table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return len(table) == phentsize * phnum


def _bwrap() -> str:
    found = shutil.which('bwrap')
    if not found:
        raise BoxError('bubblewrap (bwrap) is not installed')
    return found


def _parse_status(line: str) -> dict[str, str]:
    fields = {}
    line, _, error = line.partition(' error=')  # the error text, if any, ends the line
    if error:
        fields['error'] = error.strip()
    for part in line.split():
        key, _, value = part.partition('=')
        fields[key] = value
    return fields


def _launcher_args(request: BoxRequest, status_fd: int, group,
                   cgroup_fds: list[int]) -> list[str]:
    args = ['--status-fd', str(status_fd)]
    limits = {
        '--time-limit-ms': request.time_limit_ms,
        '--wall-limit-ms': request.real_time_limit_ms,
        '--fsize': request.output_limit,
    }
    if group is None:  # no cgroup: rlimits are all there is
        if request.memory_bytes:
            limits['--as-kib'] = request.memory_bytes // 1024
            limits['--stack-kib'] = request.memory_bytes // 1024
        if request.isolated:
            limits['--nproc'] = request.max_tasks
    for option, value in limits.items():
        if value:
            args += [option, str(int(value))]
    for fd in cgroup_fds:
        args += ['--cgroup-fd', str(fd)]
    if not (request.seccomp and request.isolated):
        args.append('--no-seccomp')
    else:
        args += ['--allow-exec'] if request.allow_exec else []
        args += ['--allow-sockets'] if request.allow_sockets else []
    if request.count_instructions:
        args.append('--count-instructions')
        if request.instruction_limit:
            args += ['--instruction-limit', str(int(request.instruction_limit))]
    return [*args, '--', *request.argv]


def _bwrap_args(request: BoxRequest, launcher: Path) -> list[str]:
    # All namespaces but the cgroup one: the program joins its cgroup from inside.
    argv = [_bwrap(), '--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc',
            '--unshare-uts', '--die-with-parent', '--as-pid-1', '--new-session',
            '--hostname', 'box', '--ro-bind', str(launcher), _LAUNCHER,
            '--bind', str(request.box_dir), BOX_DIR, '--proc', '/proc', '--dev', '/dev']
    if request.system_libs:
        argv += _lib_binds()
    for host, inside in request.ro_binds:
        argv += ['--ro-bind', host, inside]
    argv += ['--chdir', BOX_DIR, '--remount-ro', '/', '--clearenv']
    for key, value in request.env.items():
        argv += ['--setenv', key, str(value)]
    return [*argv, '--', _LAUNCHER]


def run(request: BoxRequest) -> BoxOutcome:
    """Run ``request`` under the launcher — in a fresh box when
    ``request.isolated`` — and return what happened."""
    group = None
    own_fds, parent_fds = [], []
    handed_over = False
    try:
        launcher = launcher_binary()
        user = _box_user() if request.isolated else None
        if request.isolated:
            _prepare_dir(request.box_dir, user)
        kind = cgroups.backend()
        if kind is not None and (request.isolated or request.memory_bytes):
            group = cgroups.RunCgroup.create(request.memory_bytes,
                                             request.max_tasks if request.isolated else None)
        status_r, status_w = os.pipe()
        own_fds.append(status_w)
        parent_fds.append(status_r)
        cgroup_fds = []
        if group is not None:
            for d in sorted(set(group.dirs.values())):
                cgroup_fds.append(os.open(d / 'cgroup.procs', os.O_WRONLY | os.O_CLOEXEC))
        own_fds += cgroup_fds
        if request.isolated:
            argv = _bwrap_args(request, launcher)
            env = {'PATH': '/usr/bin:/bin'}
        else:
            argv = [str(launcher)]
            env = request.env
        argv += _launcher_args(request, status_w, group, cgroup_fds)
        spawned = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=request.stdin if request.stdin is not None else subprocess.DEVNULL,
            stdout=request.stdout if request.stdout is not None else subprocess.DEVNULL,
            stderr=request.stderr if request.stderr is not None else subprocess.DEVNULL,
            pass_fds=(*own_fds, *request.pass_fds), start_new_session=True,
            cwd=None if request.isolated else request.box_dir,
            user=user[0] if user else None, group=user[1] if user else None,
            extra_groups=[] if user else None, env=env,
        )
        for fd in own_fds:
            os.close(fd)
        own_fds = []
        handed_over = _close_all(request.fds_to_close)
        try:
            outer = _outer_limit(request)
            if not _wait_exit(process, outer, request.cancel):
                raise BoxError(f'the box did not finish within {outer:.1f} s (supervisor hung)')
        finally:
            if group is not None:
                group.kill_all()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            elapsed = time.monotonic() - spawned
        with os.fdopen(status_r, 'r') as f:
            parent_fds.remove(status_r)
            status = _parse_status(f.read())
        if process.returncode != 0 or 'status' not in status:
            raise BoxError(f'the box failed (exit status {process.returncode}, '
                           f'launcher status {status or "missing"})')
        oom = group.oom_killed() if group is not None else False
        if request.isolated:
            stats.observe('sandbox_overhead_seconds',
                          max(0.0, elapsed - int(status.get('wall_us', 0)) / 1e6))
    finally:
        for fd in (*own_fds, *parent_fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not handed_over:
            _close_all(request.fds_to_close)
        if group is not None:
            group.remove()
    return BoxOutcome(
        exited=status['status'] == 'exited',
        exit_code=int(status['code']) if 'code' in status else None,
        signal=int(status['signal']) if 'signal' in status else None,
        cpu_us=int(status.get('utime_us', 0)) + int(status.get('stime_us', 0)),
        wall_us=int(status.get('wall_us', 0)),
        maxrss_kib=int(status.get('maxrss_kib', 0)),
        time_limit_hit=status.get('tle') == '1',
        wall_killed=status.get('wall_killed') == '1',
        oom_killed=oom,
        forbidden_syscall=status.get('rv_name'),
        error=status.get('error') if status['status'] == 'failed' else None,
        enforced_by=f'cgroup-{kind}' if group is not None else 'rlimit',
        instructions=int(status['instructions']) if 'instructions' in status else None,
    )


def _wait_exit(process: subprocess.Popen, timeout: float,
               cancel: threading.Event | None = None) -> bool:
    """Wait for ``process`` to end, at most ``timeout`` seconds; wake the moment it
    does (``Popen.wait(timeout)`` polls with growing sleeps, adding milliseconds).
    Raise :class:`Cancelled` when ``cancel`` is set meanwhile."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # very old kernels: fall back to polling
        try:
            process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    try:
        # In slices: Python code runs between them, so an interruption that is
        # delivered there (a cancelled Ray task) stops the box at once.
        while not select.select([pidfd], [], [], min(0.2, max(0.0, deadline - time.monotonic())))[0]:
            if time.monotonic() >= deadline:
                return False
            if cancel is not None and cancel.is_set():
                raise Cancelled('the run was cancelled')
    finally:
        os.close(pidfd)
    process.wait()
    return True


def _close_all(fds) -> bool:
    """Close the caller's fds exactly once (another thread may reuse the numbers after)."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    return True


def _outer_limit(request: BoxRequest) -> float:
    """Seconds after which the supervisor itself is presumed hung."""
    inner = request.real_time_limit_ms or (request.time_limit_ms or 0) * 3 or 60_000
    return 2 * inner / 1000 + 5
