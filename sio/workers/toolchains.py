"""Which language toolchains this node really has, found by running them.

As DMOJ's judges self-test each runtime when they start, a node tells what it
can compile and run by trying each toolchain (its version query; a tool that
is missing, broken or hangs is absent).  :data:`RUNTIMES` names them: ``java``
(the JVM and javac), ``fpc`` (Free Pascal), ``python`` (``python3``),
``gcc`` and ``gxx`` (g++).  Jobs name the ones they need in their
requirements (:attr:`sio.workers.requirements.Requirements.runtimes`); the
Ray back-end turns the answer into node tags (:mod:`sio_ray.tags`).
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

__all__ = ['RUNTIMES', 'available']

#: Each runtime, and the commands that must all work for it to count.
RUNTIMES: dict[str, tuple[tuple[str, ...], ...]] = {
    'java': (('java', '-version'), ('javac', '-version')),
    'fpc': (('fpc', '-iV'),),
    'python': (('python3', '-c', 'pass'),),
    'gcc': (('gcc', '-dumpversion'),),
    'gxx': (('g++', '-dumpversion'),),
}
#: Seconds a version query may take (a JVM starting on a loaded node).
TIMEOUT = 30.0


def _works(commands: tuple[tuple[str, ...], ...]) -> bool:
    for command in commands:
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode != 0:
            return False
    return True


@lru_cache(maxsize=None)
def available() -> dict[str, bool]:
    """Each runtime of :data:`RUNTIMES`: whether it works here (probed once
    per process, the toolchains at once)."""
    with ThreadPoolExecutor(len(RUNTIMES)) as pool:
        works = dict(zip(RUNTIMES, pool.map(_works, RUNTIMES.values())))
    return works
