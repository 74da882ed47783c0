"""Running trusted helper programs from jobs (:func:`execute`).

Untrusted programs (submissions, checkers) go through the isolated executor
instead; this is for tools a job itself trusts, such as archivers.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from sio.workers.executors import ExecError, UnprotectedExecutor

__all__ = ['ExecError', 'execute', 'noquote']


class noquote(str):
    """A command-line piece passed to the shell as it is (``&&``, ``>``, ``2>&1``)."""


def _to_shell(command: Sequence) -> str:
    parts = []
    for arg in command:
        if isinstance(arg, noquote):
            parts.append(str(arg))
        elif isinstance(arg, (list, tuple)):
            parts.append(shlex.quote(_to_shell(arg)))  # a nested command is one argument
        else:
            parts.append(shlex.quote(os.fspath(arg)))
    return ' '.join(parts)


def execute(command: str | Sequence, **kwargs) -> tuple[int, bytes | list[bytes]]:
    """Run ``command`` through ``/bin/sh`` and return ``(return code, output)``.

    ``command`` is a string (shell syntax) or a list whose pieces are quoted
    (except :class:`noquote` ones), as upstream.  It runs in the job directory
    under :class:`~sio.workers.executors.UnprotectedExecutor`, which takes the
    keyword arguments (``env``, ``stdin``, ``forward_stderr``, ``split_lines``,
    ``output_limit``, ``real_time_limit``, ``ignore_errors``,
    ``extra_ignore_errors``...).  ``output`` is the captured standard output.
    A non-zero status raises :class:`~sio.workers.executors.ExecError` unless
    ignored; a program killed by signal N gives status 128+N, as from a shell.
    """
    script = command if isinstance(command, str) else _to_shell(command)
    result = UnprotectedExecutor()(['/bin/sh', '-c', script], capture_output=True, **kwargs)
    return_code = result.return_code if result.return_code >= 0 else 128 + (result.exit_signal or 0)
    return return_code, result.stdout
