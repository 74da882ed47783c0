"""One run of a program in a box: bubblewrap + the launcher + a cgroup.

Theory of operation
-------------------
The box has its own user, PID, network, IPC, UTS and mount namespaces.  Its
file system is an empty read-only root holding the box directory (``/box``,
the working directory), ``/proc``, a read-only minimal ``/dev``, the
launcher, and — for dynamically linked programs — the dynamic loader and
libraries, read-only.  Nothing else of the host is visible.  When the worker
runs as root, the box runs as an unprivileged user (``$SIO_BOX_UID``,
default 65534), never as root.

Processes: the worker starts ``bwrap``, whose monitor stays in the host's
PID namespace (out of the program's sight); the launcher (``launcher.c``) is
PID 1 of the box and forks the program.  The launcher makes itself not
dumpable before anything else, so the program — same uid, same user
namespace — can neither open ``/proc/1/mem`` nor take its descriptors
(``pidfd_getfd``) nor trace it; the seccomp filter turns every system call
that would touch another process's limits or scheduling (``prlimit64``,
``setpriority``, ``sched_setaffinity``, ... with a pid other than 0) into a
rule violation; signals from inside the box do not reach PID 1.

Channels: the launcher's status line goes through a pipe only it holds
(:func:`parse_status` rejects anything that is not exactly one well-formed
line: the run is then a system error, never a verdict); the seccomp
listener is created by the program's filter and passed to the launcher
before the program's code runs.  bwrap reports the launcher's host PID on
``--info-fd``; the worker opens a pidfd for it at once and kills it at the
end whatever happened, so nothing of the run outlives it.

Accounting: the program joins the run's cgroup (:mod:`cgroups`) from
inside, through descriptors the launcher closes before ``execve``.  CPU time
is the cgroup's (every process of the run, also children the kernel reaped
by itself), watched live by the launcher and read again by the worker at
the end.  Memory is the address-space peak (as sio2jail and ``ulimit -v``
count it): the launcher samples ``VmPeak``/``VmSize`` of every process every
10 ms and reads ``VmPeak`` when a process calls ``exit_group`` (a seccomp
notification); ``RLIMIT_AS`` is the limit plus :data:`AS_MARGIN_KIB`, and
the memory cgroup caps the resident memory of the whole run at the limit.
``memory_mode='resident'`` limits and reports resident memory instead.

Disk: ``/box`` is a tmpfs of the run's own, its pages charged to the run's
memory cgroup.  Usually (``keep_files`` false: solutions, checkers,
interactors, verifiers, on a node with cgroups) bubblewrap mounts it inside
the box, as large as the memory limit, with the box directory's regular
files and directories bound into it read-only; what the program writes
vanishes with the box, and its bytes and inodes count as the run's memory.
When the caller reads what the program leaves (compilers, generators,
Kattis checkers), or there is no memory cgroup to count inodes, and the
worker is root, :class:`~sio.workers.isolation.disk.BoxDisk` mounts one on
the host (limited to :data:`~sio.workers.isolation.disk.DISK_INODES` new
inodes), copies the box directory in and the results back (regular files and
directories only); without root such a box directory is bound as it is,
bounded only per file.
"""

from __future__ import annotations

import contextlib
import functools
import json
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

from sio.workers import settings, stats
from sio.workers.isolation import cgroups
from sio.workers.isolation.disk import DISK_BYTES_DEFAULT, BoxDisk
from sio.workers.isolation.launcher import launcher_binary

#: Where a box finds its directory and the launcher.
BOX_DIR = '/box'
_LAUNCHER = '/.launcher'
_SYSTEM_LIBS = ('/usr/lib', '/usr/lib64', '/usr/lib32', '/lib', '/lib64', '/lib32', '/usr/libx32')
DEFAULT_MAX_TASKS = 64
#: ``RLIMIT_AS`` is the memory limit plus this (KiB), as sio2jail's margin:
#: a program a little over its limit still runs, and is reported MLE.
AS_MARGIN_KIB = 8 * 1024
MEMORY_MODES = ('address-space', 'resident')
#: Without a cgroup, resident memory is sampled and the address space is
#: bounded only as a backstop: this many times the limit, plus this many KiB.
#: A JVM (the resident mode's reason) reserves a thread stack of the memory
#: limit (``-Xss``) for each of its ten or so threads, a heap of it, and about
#: 1.5 GiB besides: 256 MiB limits need 5 GiB, 1 GiB ones 12 GiB (measured).
RESIDENT_AS_FACTOR = 16
RESIDENT_AS_EXTRA_KIB = 4 << 20
#: Seconds beyond twice a run's wall-clock limit after which its supervisor is presumed hung.
SUPERVISOR_GRACE_S = 5
#: Seconds bubblewrap has to report the launcher's PID.
BWRAP_START_TIMEOUT_S = 10.0
#: Seconds to wait for a killed launcher to be gone.
KILL_WAIT_S = 5.0
#: The worker waits for a box in slices this long (s), so that a cancellation lands.
WAIT_SLICE_S = 0.2
_STATUS_INT_KEYS = frozenset({'code', 'signal', 'cpu_us', 'maxrss_kib', 'vm_peak_kib', 'wall_us',
                              'tle', 'wall_killed', 'map_exceeded', 'execve', 'rv_nr',
                              'instructions', 'errno'})
_STATUS_TEXT_KEYS = frozenset({'status', 'rv_name', 'error'})


class BoxError(RuntimeError):
    """The box itself could not run (a system error, not the program's fault)."""


class Cancelled(Exception):
    """The run was stopped because its ``cancel`` event was set."""


@dataclass(frozen=True)
class BoxView:
    """What a box sees of the host besides ``/box`` — the one place that says
    so: read-only binds ``(host path, path in the box)``, and the host's
    loader and libraries (``host_libs``): ``None`` when the program needs them
    (it is not a static executable in ``/box``), ``False`` never (a toolchain
    sandbox brings its own), ``True`` always."""

    ro_binds: tuple[tuple[str, str], ...] = ()
    host_libs: bool | None = None

    def plus(self, other: 'BoxView') -> 'BoxView':
        """Both views together (a ``False`` for the libraries wins, then ``True``)."""
        libs = (False if False in (self.host_libs, other.host_libs)
                else True if True in (self.host_libs, other.host_libs) else None)
        return BoxView(self.ro_binds + other.ro_binds, libs)

    def wants_libs(self, program: str, box_dir: Path) -> bool:
        """Whether the box of ``program`` (its path in the box) gets the host's libraries."""
        if self.host_libs is not None:
            return self.host_libs
        if program.startswith(BOX_DIR + '/'):
            return not is_static_elf(box_dir / os.path.relpath(program, BOX_DIR))
        return True


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
    #: ``address-space`` (peak virtual memory, as SIO2) or ``resident``.
    memory_mode: str = 'address-space'
    output_limit: int | None = None
    max_tasks: int = DEFAULT_MAX_TASKS
    #: What the box sees of the host besides ``/box``.
    view: BoxView = field(default_factory=lambda: BoxView())
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
    #: The caller reads what the program leaves in ``box_dir`` (a compiler's
    #: output, a generator's files); otherwise what it writes vanishes with the box.
    keep_files: bool = False


@dataclass
class BoxOutcome:
    """What happened in the box (raw facts; executors turn them into verdicts)."""

    exited: bool
    exit_code: int | None
    signal: int | None
    cpu_us: int
    wall_us: int
    maxrss_kib: int
    #: Address-space peak of the run (largest process, or the sum of those alive at once).
    vm_peak_kib: int
    time_limit_hit: bool
    wall_killed: bool
    oom_killed: bool
    forbidden_syscall: str | None
    error: str | None
    #: How memory/process limits were enforced: ``cgroup-v2``, ``cgroup-v1`` or ``rlimit``.
    enforced_by: str
    #: User-space instructions of the program tree, when counted.
    instructions: int | None = None
    #: The box's own tmpfs was (nearly) full at the end.
    disk_full: bool = False


def _box_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    uid = settings.BOX_UID.get()
    gid = settings.BOX_GID.get()
    return uid, uid if gid is None else gid


def _prepare_dir(box_dir: Path, user: tuple[int, int] | None, own: bool = True) -> None:
    """Make the box directory the box user's (with ``own``), and reachable for bubblewrap."""
    if user is None:
        return
    if own:
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
    segments = _elf_segments(path)
    return segments is not None and all(p_type != 3 for p_type, _ in segments)  # PT_INTERP


def elf_image_bytes(path: str | os.PathLike) -> int:
    """Memory the loadable segments of ELF ``path`` take (0 if it is not ELF)."""
    return sum(memsz for p_type, memsz in _elf_segments(path) or () if p_type == 1)  # PT_LOAD


def _elf_segments(path: str | os.PathLike) -> list[tuple[int, int]] | None:
    """``(p_type, p_memsz)`` of each program header of ELF ``path``, or None."""
    try:
        with open(path, 'rb') as f:
            header = f.read(64)
            if len(header) < 64 or header[:4] != b'\x7fELF':
                return None
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
        return None
    if len(table) != phentsize * phnum:
        return None
    segments = []
    for i in range(phnum):
        p_type, = struct.unpack_from(order + 'I', table, i * phentsize)
        memsz, = struct.unpack_from(order + ('Q' if is64 else 'I'), table,
                                    i * phentsize + (40 if is64 else 20))
        segments.append((p_type, memsz))
    return segments


def _bwrap() -> str:
    found = shutil.which('bwrap')
    if not found:
        raise BoxError('bubblewrap (bwrap) is not installed')
    return found


class StatusError(BoxError):
    """The launcher's status is not exactly one well-formed line."""


def parse_status(text: str) -> dict[str, str | int]:
    """The launcher's status line as a dict: exactly one line, only known
    keys, each at most once, numbers where numbers belong; anything else
    raises :class:`StatusError` (the run then counts as a system error)."""
    if text.count('\n') != 1 or not text.endswith('\n'):
        raise StatusError(f'the status is not one line: {text[:200]!r}')
    fields: dict[str, str | int] = {}
    for part in text[:-1].split(' '):
        key, eq, value = part.partition('=')
        if not eq or key in fields or not value:
            raise StatusError(f'malformed status field {part[:60]!r}')
        if key in _STATUS_INT_KEYS:
            if not value.lstrip('-').isdigit():
                raise StatusError(f'status field {key} is not a number: {value[:60]!r}')
            fields[key] = int(value)
        elif key in _STATUS_TEXT_KEYS:
            if not value.replace('-', '').replace('_', '').isalnum():
                raise StatusError(f'status field {key} is not a token: {value[:60]!r}')
            fields[key] = value
        else:
            raise StatusError(f'unknown status field {key[:60]!r}')
    if fields.get('status') not in ('exited', 'signaled', 'failed'):
        raise StatusError(f'status {fields.get("status")!r} is not exited, signaled or failed')
    return fields


def _launcher_args(request: BoxRequest, status_fd: int, group,
                   cgroup_fds: list[int], cpu_fd: int | None, cpu_format: str) -> list[str]:
    args = ['--status-fd', str(status_fd)]
    limits = {
        '--time-limit-ms': request.time_limit_ms,
        '--wall-limit-ms': request.real_time_limit_ms,
        '--fsize': request.output_limit,
    }
    memory_kib = request.memory_bytes // 1024 if request.memory_bytes else None
    if memory_kib and request.memory_mode == 'address-space':
        # Stack bounded by the address space.  The margin only where every exit is
        # measured (seccomp); elsewhere the limit itself, as ``ulimit -v``.
        measured = request.isolated and request.seccomp
        limits['--as-kib'] = memory_kib + (AS_MARGIN_KIB if measured else 0)
        limits['--map-limit-kib'] = memory_kib
    elif memory_kib and group is None:  # resident memory without a cgroup: sampled,
        limits['--rss-limit-kib'] = memory_kib  # with a generous address-space backstop
        limits['--as-kib'] = RESIDENT_AS_FACTOR * memory_kib + RESIDENT_AS_EXTRA_KIB
        limits['--stack-kib'] = memory_kib
    if group is None and request.isolated:
        limits['--nproc'] = request.max_tasks
    for option, value in limits.items():
        if value:
            args += [option, str(int(value))]
    for fd in cgroup_fds:
        args += ['--cgroup-fd', str(fd)]
    if cpu_fd is not None:
        args += ['--cpu-fd', str(cpu_fd), '--cpu-format', cpu_format]
    if not (request.seccomp and request.isolated):
        args.append('--no-seccomp')
    else:
        args += ['--allow-exec'] if request.allow_exec else []
        args += ['--allow-sockets'] if request.allow_sockets else []
        # Without a memory cgroup, memfds and socket buffers would be memory no limit
        # sees: violations, but an AF_UNIX socket() fails (libc's nscd lookup).  A
        # JVM, in the resident mode, needs a socket: it keeps them, bounded by its
        # 64 descriptors.
        strict = group is None and request.memory_mode == 'address-space'
        args += ['--strict-kernel-memory'] if strict else []
    if request.count_instructions:
        args.append('--count-instructions')
        if request.instruction_limit:
            args += ['--instruction-limit', str(int(request.instruction_limit))]
    return [*args, '--', *request.argv]


def _box_dir_args(request: BoxRequest, box_dir: Path, ephemeral: bool) -> list[str]:
    """bwrap arguments for ``/box``: the (tmpfs) box directory itself; or,
    ``ephemeral``, a fresh tmpfs of the box's own, limited in size, holding
    the box directory's regular files and directories read-only (links are
    not followed into the host)."""
    if not ephemeral:
        return ['--bind', str(box_dir), BOX_DIR]
    args = ['--perms', '0777', '--size', str(request.memory_bytes or DISK_BYTES_DEFAULT),
            '--tmpfs', BOX_DIR]
    with os.scandir(box_dir) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
                args += ['--ro-bind', entry.path, f'{BOX_DIR}/{entry.name}']
    return args


def _bwrap_args(request: BoxRequest, launcher: Path, box_dir: Path, info_fd: int,
                ephemeral: bool) -> list[str]:
    # All namespaces but the cgroup one: the program joins its cgroup from inside.
    argv = [_bwrap(), '--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc',
            '--unshare-uts', '--die-with-parent', '--as-pid-1', '--new-session',
            '--info-fd', str(info_fd),
            '--hostname', 'box', '--ro-bind', str(launcher), _LAUNCHER,
            *_box_dir_args(request, box_dir, ephemeral), '--proc', '/proc', '--dev', '/dev',
            '--remount-ro', '/dev']
    if request.view.wants_libs(request.argv[0], request.box_dir):
        argv += _lib_binds()
    for host, inside in request.view.ro_binds:
        argv += ['--ro-bind', host, inside]
    argv += ['--chdir', BOX_DIR, '--remount-ro', '/', '--clearenv']
    for key, value in request.env.items():
        argv += ['--setenv', key, str(value)]
    return [*argv, '--', _LAUNCHER]


def _read_launcher_pid(info_r: int, timeout: float = BWRAP_START_TIMEOUT_S) -> int | None:
    """The launcher's host PID from bwrap's ``--info-fd`` JSON (None if bwrap died first)."""
    data = b''
    deadline = time.monotonic() + timeout
    while b'}' not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([info_r], [], [], left)[0]:
            return None
        chunk = os.read(info_r, 4096)
        if not chunk:
            return None
        data += chunk
    try:
        return int(json.loads(data[:data.index(b'}') + 1])['child-pid'])
    except (ValueError, KeyError, TypeError):
        return None


def _kill_pidfd(pidfd: int | None) -> None:
    """SIGKILL the process behind ``pidfd`` and wait until it is gone."""
    if pidfd is None:
        return
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    select.select([pidfd], [], [], KILL_WAIT_S)  # readable once the process has exited
    os.close(pidfd)


def run(request: BoxRequest) -> BoxOutcome:
    """Run ``request`` under the launcher — in a fresh box when
    ``request.isolated`` — and return what happened."""
    if request.memory_mode not in MEMORY_MODES:
        raise ValueError(f'memory_mode: {request.memory_mode!r} is not one of '
                         f'{", ".join(MEMORY_MODES)}')
    group = disk = None
    launcher_pidfd = None
    own_fds, parent_fds = [], []
    handed_over = False
    try:
        launcher = launcher_binary()
        user = _box_user() if request.isolated else None
        box_dir = request.box_dir
        kind = cgroups.backend()
        # A tmpfs inside the box bounds bytes and inodes only through the memory cgroup.
        ephemeral = request.isolated and not request.keep_files and kind is not None
        if request.isolated:
            if not ephemeral:
                disk = BoxDisk.create(request.box_dir, user, request.memory_bytes)
            box_dir = disk.path if disk is not None else request.box_dir
            _prepare_dir(request.box_dir, user, own=disk is None)  # readable by the box's uid
        if kind is not None:  # also unprotected runs: to kill all they leave, and their CPU
            group = cgroups.RunCgroup.create(request.memory_bytes,
                                             request.max_tasks if request.isolated else None)
        status_r, status_w = os.pipe()
        own_fds.append(status_w)
        parent_fds.append(status_r)
        cgroup_fds = []
        cpu_fd, cpu_format = None, ''
        if group is not None:
            for d in sorted(set(group.dirs.values())):
                cgroup_fds.append(os.open(d / 'cgroup.procs', os.O_WRONLY | os.O_CLOEXEC))
            found = group.cpu_file()
            if found is not None:
                cpu_fd = os.open(found[0], os.O_RDONLY | os.O_CLOEXEC)
                cpu_format = found[1]
                own_fds.append(cpu_fd)
        own_fds += cgroup_fds
        info_r = None
        if request.isolated:
            info_r, info_w = os.pipe()
            own_fds.append(info_w)
            parent_fds.append(info_r)
            argv = _bwrap_args(request, launcher, box_dir, info_w, ephemeral)
            env = {'PATH': '/usr/bin:/bin'}
        else:
            argv = [str(launcher)]
            env = request.env
        argv += _launcher_args(request, status_w, group, cgroup_fds, cpu_fd, cpu_format)
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
            if info_r is not None:
                pid = _read_launcher_pid(info_r)
                with contextlib.suppress(OSError):
                    launcher_pidfd = os.pidfd_open(pid) if pid else None
            outer = _outer_limit(request)
            if not _wait_exit(process, outer, request.cancel):
                raise BoxError(f'the box did not finish within {outer:.1f} s (supervisor hung)')
        finally:
            # Everything of the run goes, whatever happened: the program's cgroup,
            # the launcher (PID 1 of the box: its whole namespace with it), bwrap.
            if group is not None:
                group.kill_all()
            _kill_pidfd(launcher_pidfd)
            launcher_pidfd = None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            elapsed = time.monotonic() - spawned
        with os.fdopen(status_r, 'r', errors='replace') as f:
            parent_fds.remove(status_r)
            text = f.read(4096)
        if process.returncode != 0 or not text:
            raise BoxError(f'the box failed (exit status {process.returncode}, '
                           f'launcher status {text[:200] or "missing"!r})')
        status = parse_status(text)
        oom = group.oom_killed() if group is not None else False
        cpu_us = group.cpu_us() if group is not None else None
        if cpu_us is None:
            cpu_us = status.get('cpu_us', 0)
        if request.isolated:
            stats.observe('sandbox_overhead_seconds',
                          max(0.0, elapsed - status.get('wall_us', 0) / 1e6))
        disk_full = disk is not None and disk.full()
        # Files adding up to more than the disk holds (sparse, hard links) are its overflow.
        disk_overflow = disk is not None and not disk.copy_back()
    finally:
        for fd in (*own_fds, *parent_fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not handed_over:
            _close_all(request.fds_to_close)
        _kill_pidfd(launcher_pidfd)
        if group is not None:
            group.remove()
        if disk is not None:
            disk.remove()
    exec_errno = status.get('errno', 0) if status['status'] == 'failed' else 0
    return BoxOutcome(
        exited=status['status'] == 'exited',
        exit_code=status.get('code'),
        signal=status.get('signal'),
        cpu_us=cpu_us,
        wall_us=status.get('wall_us', 0),
        maxrss_kib=status.get('maxrss_kib', 0),
        vm_peak_kib=status.get('vm_peak_kib', 0),
        time_limit_hit=status.get('tle') == 1,
        wall_killed=status.get('wall_killed') == 1,
        oom_killed=oom or status.get('map_exceeded') == 1 or disk_overflow,
        disk_full=disk_full,
        forbidden_syscall=status.get('rv_name'),
        error=(os.strerror(exec_errno) if status.get('error') == 'exec' and exec_errno
               else f'{status.get("error", "launcher failure")}'
                    + (f': {os.strerror(exec_errno)}' if exec_errno else ''))
        if status['status'] == 'failed' else None,
        enforced_by=f'cgroup-{kind}' if group is not None else 'rlimit',
        instructions=status.get('instructions'),
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
        while not select.select([pidfd], [], [],
                                min(WAIT_SLICE_S, max(0.0, deadline - time.monotonic())))[0]:
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
    """Seconds after which the supervisor itself is presumed hung: twice the
    run's wall-clock limit (or of three times its time limit, or of a
    minute), plus :data:`SUPERVISOR_GRACE_S`."""
    inner = request.real_time_limit_ms or (request.time_limit_ms or 0) * 3 or 60_000
    return 2 * inner / 1000 + SUPERVISOR_GRACE_S
