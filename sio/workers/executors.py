"""Executors: run a program under limits, measure it and give a verdict.

Two executors share one call signature and one result type,
:class:`ExecutionResult`:

* :class:`UnprotectedExecutor` (``unsafe-*`` jobs): the program runs as the
  worker with rlimits only (and a cgroup for memory where the node has one);
* :class:`IsolatedExecutor` (everything that runs untrusted code): the
  program runs in a box (:mod:`sio.workers.isolation.box`) — namespaces, a
  read-only minimal file system, no network, a seccomp filter, rlimits and
  cgroups — and nothing it starts survives the run.

Units: times in milliseconds, memory in KiB, output limits in bytes.

Limits are explicit arguments.  For plugins written for upstream, an executor
also accepts ``environ`` and ``environ_prefix``: keys such as
``exec_time_limit`` then override the arguments (upstream's semantics, kept
as upstream-compatibility surface).  The project's own jobs do not use them:
each resolves its limits once, from its own limits table and the environ,
with :meth:`Limits.resolve`, and passes the values.

``num_syscalls`` is reported as 0, as upstream's jailed executors report it
without counting: it is kept for upstream compatibility, not measured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sio.workers.isolation import box, probe
from sio.workers.results import MLE, OK, OLE, RE, RV, SE, TLE
from sio.workers.util import replace_invalid_UTF, tempcwd

__all__ = ['ExecError', 'ExecutionResult', 'Limits', 'UnprotectedExecutor', 'IsolatedExecutor',
           'DetailedUnprotectedExecutor', 'BOX_DEFAULT_LIMITS', 'default_real_time_limit',
           'verdict', 'cap_result_string']

#: Upper bound of ``result_string`` (bytes of UTF-8), as upstream.
RESULT_STRING_LIMIT = 1024
#: sio2jail's virtual clock: 2·10⁹ instructions are one second.
INSTRUCTIONS_PER_MS = 2_000_000
_LIMIT_KEYS = ('time_limit', 'real_time_limit', 'mem_limit', 'output_limit')


class ExecError(RuntimeError):
    """A program failed and the caller did not ask to ignore it."""

    def __init__(self, message: str, result: 'ExecutionResult | None' = None):
        super().__init__(message)
        self.result = result


def cap_result_string(text: str | bytes) -> str:
    """Valid UTF-8 text of at most 1024 bytes (longer ones end with ``[...]``)."""
    text = replace_invalid_UTF(text)
    data = text.encode('utf-8')
    if len(data) <= RESULT_STRING_LIMIT:
        return text
    return data[:RESULT_STRING_LIMIT - 5].decode('utf-8', errors='ignore') + '[...]'


@dataclass
class ExecutionResult:
    """The outcome of one run.  Also readable like upstream's result dict
    (``result['time_used']``)."""

    #: ``OK``, ``RE``, ``TLE``, ``MLE``, ``OLE``, ``RV`` or ``SE`` (:mod:`sio.workers.results`).
    result_code: str = OK
    result_string: str = 'ok'
    #: CPU time of the whole process tree, ms.
    time_used: int = 0
    #: Peak memory, KiB.
    mem_used: int = 0
    #: Wall-clock time, ms.
    real_time_used: int = 0
    #: The program's own exit code; -1 when it did not exit (killed by a signal).
    return_code: int = -1
    #: The signal that ended the program, if one did.
    exit_signal: int | None = None
    #: Always 0: not counted (upstream's jailed executors report 0 too; kept
    #: for upstream compatibility).
    num_syscalls: int = 0
    #: The wall-clock limit stopped the program.
    real_time_killed: bool = False
    #: Captured standard output (``capture_output``), split with ``split_lines``.
    stdout: bytes | list[bytes] | None = None
    #: What ``time_used`` measures: ``cpu`` (or ``instructions`` where counted).
    time_measure: str = 'cpu'
    #: How memory and process limits were enforced: ``cgroup-v2``, ``cgroup-v1`` or ``rlimit``.
    limits_enforced_by: str = 'rlimit'
    #: What ``mem_used`` and the memory limit measure: ``address-space`` (the
    #: peak of virtual memory, as SIO2) or ``resident``.
    memory_mode: str = 'address-space'

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: str) -> bool:
        return hasattr(self, key)

    def to_dict(self) -> dict:
        """The fields as a dict (``stdout`` left out unless captured)."""
        result = asdict(self)
        if result['stdout'] is None:
            del result['stdout']
        return result


@dataclass(frozen=True)
class Limits:
    """Limits of one run: ms, ms, KiB, bytes; None means none."""

    time_limit: int | None = None
    real_time_limit: int | None = None
    mem_limit: int | None = None
    output_limit: int | None = None

    @classmethod
    def resolve(cls, explicit: 'dict | Limits', environ: dict | None, prefix: str) -> 'Limits':
        """The limits of one run: ``explicit`` (a job's limits table, a
        :class:`Limits` or a dict), overridden by ``environ[prefix + key]``
        where present.  A value that is not a non-negative number raises
        :class:`ValueError` naming the key."""
        values = asdict(explicit) if isinstance(explicit, Limits) else dict(explicit)
        if environ is not None:
            for key in _LIMIT_KEYS:
                env_key = prefix + key
                if env_key in environ:
                    values[key] = environ[env_key]
        for key, value in values.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0):
                name = f"environ[{prefix + key!r}]" if environ and prefix + key in environ else key
                raise ValueError(f'{name}: {value!r} is not a non-negative number')
        return cls(**{k: (int(v) if v is not None else None) for k, v in values.items()})


#: A box's limits when none are given: upstream's jailed executors' 30 s of
#: CPU time, 64 MiB of memory and 50 MiB of output (the ``exec`` jobs' defaults).
BOX_DEFAULT_LIMITS = Limits(time_limit=30_000, mem_limit=64 << 10, output_limit=50 << 20)
#: Without a ``real_time_limit``, a run's wall-clock limit is this many times its
#: time limit ...
REAL_TIME_FACTOR = 2
#: ... plus this (ms) in a box (its start-up).
BOX_REAL_TIME_EXTRA_MS = 1000


def default_real_time_limit(time_limit: int | None, isolated: bool) -> int | None:
    """The wall-clock limit (ms) of a run given only a time limit: twice it,
    plus one second in a box; None without a time limit."""
    if not time_limit:
        return None
    return REAL_TIME_FACTOR * time_limit + (BOX_REAL_TIME_EXTRA_MS if isolated else 0)


def verdict(*, exited: bool, exit_code: int | None, signal_number: int | None, time_used: int,
            time_limit: int | None, time_limit_hit: bool = False, wall_killed: bool = False,
            memory_exceeded: bool = False, output_exceeded: bool = False,
            forbidden_syscall: str | None = None) -> tuple[str, str]:
    """``(result_code, result_string)`` from the facts of a run (first match wins)."""
    if forbidden_syscall:
        return RV, f'forbidden system call: {forbidden_syscall}'
    if signal_number == signal.SIGSYS:
        return RV, 'forbidden system call (foreign architecture)'
    if memory_exceeded:
        return MLE, 'memory limit exceeded'
    if time_limit_hit or (time_limit and time_used > time_limit) or signal_number == signal.SIGXCPU:
        return TLE, 'time limit exceeded'
    if wall_killed:
        return TLE, 'real time limit exceeded'
    if output_exceeded or signal_number == signal.SIGXFSZ:
        return OLE, 'output limit exceeded'
    if exited and exit_code == 0:
        return OK, 'ok'
    if exited:
        return RE, f'program exited with code {exit_code}'
    return RE, f'program exited due to signal {signal_number}'


@dataclass
class RunSpec:
    """One run, as the executors pass it on: what to start, where, its
    streams (descriptors), limits and view, and how it runs.  Built by
    :meth:`BaseExecutor.__call__` from its keyword arguments."""

    argv: list[str]
    cwd: Path
    limits: Limits
    env: dict | None = None
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    #: What the box sees besides its directory, added to the executor's own view.
    view: box.BoxView = field(default_factory=box.BoxView)
    #: Descriptors the program inherits.
    pass_fds: tuple[int, ...] = ()
    #: The caller's descriptors closed as soon as the program started (pipe ends).
    fds_to_close: tuple[int, ...] = ()
    #: The largest file the program may write (bytes), when not ``limits.output_limit``.
    file_size_limit: int | None = None
    #: Set from another thread to kill the program (:class:`box.Cancelled` is raised).
    cancel: threading.Event | None = None
    #: ``address-space`` or ``resident``; None: the executor's default.
    memory_mode: str | None = None
    #: Whether the caller reads what the program leaves in ``cwd``; None: the executor's default.
    keep_files: bool | None = None


#: The keyword arguments of an executor call that go into its :class:`RunSpec`.
_SPEC_OPTIONS = ('view', 'fds_to_close', 'file_size_limit', 'cancel', 'memory_mode', 'keep_files')


def _fd_of(stream: BinaryIO | int | None) -> int | None:
    if stream is None or isinstance(stream, int):
        return stream
    return stream.fileno()


class BaseExecutor:
    """Common parameters and result handling of every executor.

    Call an executor with the command (a list; a string is split on spaces)
    and keyword arguments:

    ``env``, ``cwd``; ``stdin``, ``stdout``, ``stderr`` (files or fds; default
    ``/dev/null``); ``capture_output`` (standard output into ``result.stdout``),
    ``split_lines``, ``forward_stderr`` (standard error into standard output);
    ``time_limit``, ``real_time_limit``, ``mem_limit``, ``output_limit``
    (overridden by ``environ[environ_prefix + name]`` when ``environ`` is
    given: upstream-compatibility surface for plugins; the project's jobs pass
    values resolved by :meth:`Limits.resolve`); ``ignore_errors``,
    ``extra_ignore_errors`` (exit codes that are not errors); ``pass_fds``
    (descriptors the program inherits) and ``fds_to_close`` (the caller's
    descriptors closed as soon as the program started, e.g. pipe ends);
    ``file_size_limit`` (bytes; the largest file the program may write, when it
    should differ from ``output_limit``, e.g. for compilers); ``cancel`` (a
    :class:`threading.Event`: setting it from another thread kills the program
    and raises :class:`sio.workers.isolation.box.Cancelled`); ``view`` (a
    :class:`~sio.workers.isolation.box.BoxView`: what else the box sees),
    ``memory_mode`` and ``keep_files`` (see :class:`RunSpec`).  Other keyword
    arguments (upstream's executor-specific ones) are ignored.

    A result other than ``OK`` raises :class:`ExecError` unless errors are
    ignored.  Executors are also context managers (a no-op kept for plugins
    written for upstream).
    """

    default_limits = Limits()
    #: Whether output beyond ``output_limit`` written to a regular file is OLE.
    enforces_output_limit = True

    def __enter__(self) -> 'BaseExecutor':
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def __call__(self, command: str | Sequence[str], env: dict | None = None,
                 split_lines: bool = False, ignore_errors: bool = False,
                 extra_ignore_errors: Iterable[int] = (), stdin: Any = None, stdout: Any = None,
                 stderr: Any = None, forward_stderr: bool = False, capture_output: bool = False,
                 time_limit: int | None = None, real_time_limit: int | None = None,
                 mem_limit: int | None = None, output_limit: int | None = None,
                 environ: dict | None = None, environ_prefix: str = '',
                 pass_fds: Sequence[int] = (), cwd: str | os.PathLike | None = None,
                 **kwargs) -> ExecutionResult:
        argv = command.split() if isinstance(command, str) else [os.fspath(a) for a in command]
        limits = self._apply_defaults(Limits.resolve(
            {'time_limit': time_limit, 'real_time_limit': real_time_limit,
             'mem_limit': mem_limit, 'output_limit': output_limit}, environ, environ_prefix))
        if cwd is None:
            try:
                cwd = tempcwd()
            except RuntimeError:
                cwd = os.getcwd()
        with contextlib.ExitStack() as stack:
            out_fd = _fd_of(stdout)
            capture = None
            if capture_output:
                capture = stack.enter_context(tempfile.TemporaryFile())
                out_fd = capture.fileno()
            err_fd = out_fd if forward_stderr else _fd_of(stderr)
            start_size = _size_of(out_fd)
            options = {key: kwargs[key] for key in _SPEC_OPTIONS if kwargs.get(key) is not None}
            if 'fds_to_close' in options:
                options['fds_to_close'] = tuple(options['fds_to_close'])
            result = self._execute(RunSpec(
                argv, Path(cwd), limits, env=env, stdin=_fd_of(stdin), stdout=out_fd,
                stderr=err_fd, pass_fds=tuple(pass_fds), **options))
            if limits.output_limit is not None and result.result_code in (OK, RE):
                written = _size_of(out_fd) - start_size if start_size is not None else 0
                if written > limits.output_limit and self.enforces_output_limit:
                    result.result_code, result.result_string = OLE, 'output limit exceeded'
            if capture is not None:
                capture.seek(0)
                data = capture.read(limits.output_limit) if limits.output_limit is not None \
                    else capture.read()
                result.stdout = data.split(b'\n') if split_lines else data
        result.result_string = cap_result_string(result.result_string)
        if result.result_code != OK and not ignore_errors:
            if not (result.result_code == RE and result.return_code in set(extra_ignore_errors)):
                raise ExecError(f'Failed to execute command {argv!r}: {result.result_code} '
                                f'({result.result_string})', result)
        return result

    def _apply_defaults(self, limits: Limits) -> Limits:
        d = self.default_limits
        return Limits(
            time_limit=limits.time_limit or d.time_limit,
            real_time_limit=limits.real_time_limit,
            mem_limit=limits.mem_limit or d.mem_limit,
            output_limit=limits.output_limit or d.output_limit,
        )

    def _execute(self, spec: RunSpec) -> ExecutionResult:
        raise NotImplementedError


def _size_of(fd: int | None) -> int | None:
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


class _SupervisedExecutor(BaseExecutor):
    """Runs programs under the launcher (:mod:`sio.workers.isolation.box`),
    boxed or not, and turns what happened into a result."""

    isolated = True
    seccomp = True
    max_tasks = box.DEFAULT_MAX_TASKS
    #: What every box of this executor sees besides its directory.
    view = box.BoxView()
    count_instructions = False
    allow_exec = False
    allow_sockets = False
    #: ``address-space`` (SIO2's measure) or ``resident``; a call's ``memory_mode`` overrides it.
    memory_mode = 'address-space'
    #: Whether callers read what the program leaves in its box directory; a
    #: call's ``keep_files`` overrides it (see :mod:`sio.workers.isolation.box`).
    keep_files = False

    def _image_kib(self, program: str, cwd: Path) -> int:
        return 0

    def _default_real_time_limit(self, limits: Limits) -> int | None:
        raise NotImplementedError

    def _program(self, program: str, cwd: Path, env: dict) -> str:
        raise NotImplementedError

    def _env(self, env: dict | None) -> dict:
        raise NotImplementedError

    def _execute(self, spec: RunSpec) -> ExecutionResult:
        argv, cwd, limits = spec.argv, spec.cwd, spec.limits
        env = self._env(spec.env)
        program = self._program(argv[0], cwd, env)
        memory_mode = spec.memory_mode or self.memory_mode
        counting = self.count_instructions
        request = box.BoxRequest(
            argv=[program, *argv[1:]], box_dir=cwd, stdin=spec.stdin,
            stdout=spec.stdout, stderr=spec.stderr, env=env,
            time_limit_ms=None if counting else limits.time_limit,
            count_instructions=counting,
            instruction_limit=limits.time_limit * INSTRUCTIONS_PER_MS
            if counting and limits.time_limit else None,
            real_time_limit_ms=limits.real_time_limit or self._default_real_time_limit(limits),
            memory_bytes=limits.mem_limit * 1024 if limits.mem_limit else None,
            memory_mode=memory_mode,
            output_limit=spec.file_size_limit or (
                limits.output_limit if self.enforces_output_limit else None),
            max_tasks=self.max_tasks, view=self.view.plus(spec.view), seccomp=self.seccomp,
            pass_fds=spec.pass_fds, isolated=self.isolated, fds_to_close=spec.fds_to_close,
            allow_exec=self.allow_exec, allow_sockets=self.allow_sockets, cancel=spec.cancel,
            keep_files=self.keep_files if spec.keep_files is None else spec.keep_files)
        try:
            outcome = box.run(request)
        except (box.BoxError, OSError) as exc:
            return ExecutionResult(SE, f'sandbox failure: {exc}')
        if outcome.error:
            return ExecutionResult(RE, f'cannot execute {argv[0]}: {outcome.error}',
                                   return_code=127, limits_enforced_by=outcome.enforced_by)
        if outcome.instructions is not None:
            time_used, measure = outcome.instructions // INSTRUCTIONS_PER_MS, 'instructions'
        else:
            time_used, measure = outcome.cpu_us // 1000, 'cpu'
        if memory_mode == 'address-space':
            # A program whose image alone exceeds RLIMIT_AS dies in execve, unmeasured;
            # the resident peak is a lower bound of the address-space peak.
            mem_used = max(outcome.vm_peak_kib, self._image_kib(program, cwd),
                           outcome.maxrss_kib)
        else:
            mem_used = outcome.maxrss_kib
        # A full box disk is the program's memory (its pages are charged to the run).
        disk_full = outcome.disk_full and not (outcome.exited and outcome.exit_code == 0)
        memory_exceeded = outcome.oom_killed or disk_full or bool(limits.mem_limit and (
            mem_used > limits.mem_limit if memory_mode == 'address-space'
            else outcome.enforced_by == 'rlimit' and mem_used >= limits.mem_limit))
        result_code, result_string = verdict(
            exited=outcome.exited, exit_code=outcome.exit_code, signal_number=outcome.signal,
            time_used=time_used, time_limit=limits.time_limit,
            time_limit_hit=outcome.time_limit_hit, wall_killed=outcome.wall_killed,
            memory_exceeded=memory_exceeded, forbidden_syscall=outcome.forbidden_syscall)
        return ExecutionResult(
            result_code, result_string, time_used=time_used, mem_used=mem_used,
            real_time_used=outcome.wall_us // 1000,
            return_code=outcome.exit_code if outcome.exited else -1,
            exit_signal=outcome.signal, real_time_killed=outcome.wall_killed,
            time_measure=measure, limits_enforced_by=outcome.enforced_by,
            memory_mode=memory_mode)


class UnprotectedExecutor(_SupervisedExecutor):
    """Runs the program as the worker itself: rlimits (a memory cgroup instead
    of an address-space limit where the node has one), CPU time of the whole
    process tree, a wall-clock limit (twice the time limit unless given) and
    the kill of everything the program started.  No namespaces, no seccomp:
    never for untrusted programs.  Unlike upstream it reports MLE and exit
    codes over 128 as exit codes; like upstream it does not stop output
    beyond the output limit (only ``capture_output`` is cut)."""

    isolated = False
    enforces_output_limit = False

    def _default_real_time_limit(self, limits):
        return default_real_time_limit(limits.time_limit, isolated=False)

    def _env(self, env):
        full = dict(os.environ if env is None else env)
        full.setdefault('LC_ALL', 'C.UTF-8')
        return {k: str(v) for k, v in full.items()}

    def _program(self, program, cwd, env):
        if '/' not in program:
            return shutil.which(program, path=env.get('PATH')) or program
        return os.path.join(cwd, program)


#: Upstream's name for the unprotected executor that gives verdicts
#: (upstream-compatibility surface for plugins; the project uses
#: :class:`UnprotectedExecutor`).
DetailedUnprotectedExecutor = UnprotectedExecutor


class IsolatedExecutor(_SupervisedExecutor):
    """Runs an untrusted program in a box (see :mod:`sio.workers.isolation.box`).

    The box directory is ``cwd`` (default: the job directory); it should hold
    only what the program may see.  Paths in the command inside it are
    translated to the box (``/box/...``); relative ones are relative to it.
    Defaults as upstream's jailed executors: 30 s CPU time, 64 MiB memory,
    50 MiB output; the wall-clock limit defaults to twice the time limit plus
    one second.  ``time_used`` is the CPU time of every process of the box
    (with ``time_measure='instructions'``, on a node with a hardware PMU, it
    is sio2jail's virtual time: user-space instructions / 2·10⁶ per ms);
    ``mem_used`` the address-space peak of the run (``memory_mode``
    ``address-space``, as SIO2), or its resident peak (``resident``).
    """

    default_limits = BOX_DEFAULT_LIMITS

    def __init__(self, max_tasks: int = box.DEFAULT_MAX_TASKS, seccomp: bool = True,
                 view: box.BoxView = box.BoxView(), time_measure: str = 'cpu',
                 allow_exec: bool = False, allow_sockets: bool = False):
        if time_measure not in ('cpu', 'instructions'):
            raise ValueError(f"time_measure: {time_measure!r} is not 'cpu' or 'instructions'")
        self.max_tasks = max_tasks
        self.seccomp = seccomp
        self.view = view
        self.allow_exec = allow_exec
        self.allow_sockets = allow_sockets
        # Instructions only where the node has a PMU; elsewhere CPU time, and
        # results say so in ``time_measure``.
        self.count_instructions = time_measure == 'instructions' and \
            probe.capabilities().instructions

    def _default_real_time_limit(self, limits):
        return default_real_time_limit(limits.time_limit, isolated=True)

    def _env(self, env):
        return {'PATH': '/usr/bin:/bin', 'LC_ALL': 'C.UTF-8', **(env or {})}

    def _image_kib(self, program, cwd):
        if program.startswith(box.BOX_DIR + '/'):
            return box.elf_image_bytes(cwd / os.path.relpath(program, box.BOX_DIR)) // 1024
        return 0

    def _program(self, program, cwd, env):
        if not os.path.isabs(program):
            return os.path.normpath(os.path.join(box.BOX_DIR, program))
        if Path(program).is_relative_to(cwd):
            return os.path.join(box.BOX_DIR, os.path.relpath(program, cwd))
        return program
