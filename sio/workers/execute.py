"""Running trusted helper programs from jobs (:func:`execute`).

Untrusted programs (submissions, checkers) go through the executors instead;
this is for tools a job itself trusts, such as archivers.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence

from sio.workers.util import tempcwd

__all__ = ['ExecError', 'execute', 'noquote']


class ExecError(RuntimeError):
    """A command exited with a status that was not to be ignored."""

    def __init__(self, message: str, return_code: int, output: bytes):
        super().__init__(message)
        self.return_code = return_code
        self.output = output


class noquote(str):
    """A command-line piece passed to the shell as it is (``&&``, ``>``, ``2>&1``).

    A command holding one is run by ``/bin/sh`` with every other piece quoted."""


def _to_shell(command: Sequence) -> str:
    parts = []
    for arg in command:
        if isinstance(arg, noquote):
            parts.append(str(arg))
        elif isinstance(arg, (list, tuple)):
            parts.append(shlex.quote(_to_shell(arg)))
        else:
            parts.append(shlex.quote(os.fspath(arg)))
    return ' '.join(parts)


def execute(
    command: str | Sequence,
    env: dict | None = None,
    cwd: str | os.PathLike | None = None,
    stdin: int | None = None,
    forward_stderr: bool = False,
    output_limit: int | None = None,
    split_lines: bool = False,
    real_time_limit: int | None = None,
    ignore_errors: bool = False,
    extra_ignore_errors: Iterable[int] = (),
) -> tuple[int, bytes | list[bytes]]:
    """Run ``command`` and return ``(return code, output)``.

    ``command`` is an argument list, run directly (through ``/bin/sh`` when it
    holds a :class:`noquote` piece), or a string run by ``/bin/sh``.  It runs in
    the job directory (``cwd``), in its own process group, which is killed when
    it ends; ``real_time_limit`` (ms) kills it earlier.  A program killed by
    signal N returns ``-N``.  ``output`` is its standard output (plus standard
    error with ``forward_stderr``), cut to ``output_limit`` bytes and split
    into lines with ``split_lines``.

    Raises :class:`ExecError` on a non-zero status unless ``ignore_errors`` or
    the status is in ``extra_ignore_errors``.
    """
    shell = isinstance(command, str) or any(isinstance(a, noquote) for a in command)
    args = command if isinstance(command, str) else (
        _to_shell(command) if shell else [os.fspath(a) for a in command])
    if cwd is None:
        try:
            cwd = tempcwd()
        except RuntimeError:
            cwd = os.getcwd()
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault('LC_ALL', 'C.UTF-8')
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            args, shell=shell, cwd=cwd, env={k: str(v) for k, v in full_env.items()},
            stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT if forward_stderr else subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            return_code = process.wait(None if real_time_limit is None else real_time_limit / 1000)
        except subprocess.TimeoutExpired:
            return_code = None
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the group it started, leftovers too
            except ProcessLookupError:
                pass
        if return_code is None:
            return_code = process.wait()
        out.seek(0)
        output = out.read() if output_limit is None else out.read(output_limit)
    if return_code and not ignore_errors and return_code not in set(extra_ignore_errors):
        raise ExecError(f'Failed to execute command {args!r}: exit status {return_code}',
                        return_code, output)
    return return_code, output.split(b'\n') if split_lines else output
