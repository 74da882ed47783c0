"""How a compiled artefact is run, by ``exec_info['mode']``.

* ``executable``: the file itself (``./exe``);
* ``python``: the source run by the host's ``python3`` (isolated mode, no
  user site);
* ``java``: a jar run by the host's JVM (``exec_info`` may name
  ``main_class`` and ``preferred_filename``).  The heap gets the memory limit
  (``-Xmx``, and ``-Xss`` for deep recursion, as upstream); the box allows the
  JVM's own overhead on top, and an ``OutOfMemoryError`` or
  ``StackOverflowError`` is reported as MLE.

(``output-only`` is handled by the jobs: nothing runs.)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sio.executors.files import fetch_program
from sio.workers.executors import ExecutionResult
from sio.workers.isolation.box import BoxView
from sio.workers.results import MLE, RE

#: Memory (KiB) a JVM needs beyond its heap; added to the box's memory limit.
JAVA_OVERHEAD_KIB = 256 << 10
#: Memory (KiB) each ``exec_info`` mode's runtime takes beyond the memory
#: limit, added to its box's limit (and to the job's reservation).
RUNTIME_MEMORY_KIB = {'java': JAVA_OVERHEAD_KIB}
RUNNABLE_MODES = ('executable', 'java', 'python')
#: Most bytes of a solution's standard error kept for its language's verdict
#: (a JVM's ``OutOfMemoryError``).
STDERR_LIMIT = 64 << 10


#: The runtimes (:mod:`sio.workers.toolchains`) each ``exec_info`` mode runs under.
MODE_RUNTIMES = {'java': ('java',), 'python': ('python',)}


def runtimes(environ: dict) -> tuple[str, ...]:
    """The runtimes the node needs to run ``environ['exec_info']``'s program."""
    info = environ.get('exec_info')
    mode = info.get('mode', 'executable') if isinstance(info, dict) else 'executable'
    return MODE_RUNTIMES.get(mode, ())


def runtime_memory_kib(environ: dict) -> int:
    """What the runtime of ``environ['exec_info']``'s mode adds to the memory limit (KiB)."""
    info = environ.get('exec_info')
    mode = info.get('mode', 'executable') if isinstance(info, dict) else 'executable'
    return RUNTIME_MEMORY_KIB.get(mode, 0)


def _unchanged(result: ExecutionResult, stderr: bytes) -> ExecutionResult:
    return result


@dataclass
class Program:
    """A program ready to run in a box directory."""

    argv: list[str]
    #: What its box sees besides the box directory (a runtime, read-only).
    view: BoxView = field(default_factory=BoxView)
    #: Added to the memory limit of the box (KiB).
    extra_memory_kib: int = 0
    #: How memory is limited and measured (``address-space`` or ``resident``;
    #: None: the executor's default).
    memory_mode: str | None = None
    #: Turns the run's result (and its standard error) into the verdict the
    #: language deserves.
    adjust: Callable[[ExecutionResult, bytes], ExecutionResult] = _unchanged


@lru_cache(maxsize=None)
def java_runtime() -> tuple[str, list[tuple[str, str]]]:
    """The JVM binary and the host directories it needs besides /usr/lib."""
    found = shutil.which('java')
    if not found:
        raise RuntimeError('Java programs need a JVM on the node (Debian default-jdk-headless)')
    java = os.path.realpath(found)
    home = Path(java).parents[1]
    binds = []
    config = home / 'lib' / 'jvm.cfg'
    if config.is_symlink():  # Debian keeps the JVM's configuration under /etc
        etc = Path(os.path.realpath(config)).parent
        binds.append((str(etc), str(etc)))
    if not str(home).startswith('/usr/lib/'):
        binds.append((str(home), str(home)))
    return java, binds


@lru_cache(maxsize=None)
def python_runtime() -> str:
    """The host's Python 3 interpreter (its library lives under /usr/lib)."""
    found = shutil.which('python3', path='/usr/bin:/bin')
    if not found:
        raise RuntimeError('Python programs need python3 on the node (Debian python3)')
    return os.path.realpath(found)


def _java_verdict(result: ExecutionResult, stderr: bytes) -> ExecutionResult:
    if result.result_code == RE and (b'java.lang.OutOfMemoryError' in stderr
                                       or b'java.lang.StackOverflowError' in stderr):
        result.result_code, result.result_string = MLE, 'memory limit exceeded'
    return result


def prepare(environ: dict, box: Path, mem_limit_kib: int | None) -> Program:
    """Download ``exe_file`` (and extra files) into ``box``; return how to run it."""
    info = environ.get('exec_info') or {'mode': 'executable'}
    mode = info.get('mode', 'executable')
    args = environ.get('extra_execution_args') or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError(f"environ['extra_execution_args']: {args!r} is not a list of strings")
    if mode == 'executable':
        fetch_program(environ, box, 'exe')
        return Program(['./exe', *args])
    if mode == 'java':
        main_class = info.get('main_class')
        name = info.get('preferred_filename') or f'{main_class or "a"}.jar'
        if '/' in name:
            raise ValueError(f"environ['exec_info']['preferred_filename']: {name!r} is not a name")
        fetch_program(environ, box, name)
        java, binds = java_runtime()
        memory = [f'-Xmx{mem_limit_kib}k', f'-Xss{mem_limit_kib}k'] if mem_limit_kib else []
        target = ['-cp', name, main_class] if main_class else ['-jar', name]
        # G1 (a large array may take most of the heap, as with upstream's JVM),
        # with few threads whatever the node's size.
        flags = ['-XX:+UseG1GC', '-XX:ParallelGCThreads=2', '-XX:ConcGCThreads=1',
                 '-XX:CICompilerCount=2', '-XX:-UsePerfData']
        return Program([java, *memory, *flags, *target, *args],
                       view=BoxView(tuple(binds)), extra_memory_kib=RUNTIME_MEMORY_KIB['java'],
                       adjust=_java_verdict,
                       memory_mode='resident')  # a JVM reserves far more than it uses
    if mode == 'python':
        fetch_program(environ, box, 'a.py')
        python = python_runtime()
        return Program([python, '-I', '-B', 'a.py', *args], view=BoxView(((python, python),)))
    raise ValueError(f"environ['exec_info']['mode']: {mode!r} cannot be run here "
                     f"(known: {', '.join(RUNNABLE_MODES)}, output-only)")
