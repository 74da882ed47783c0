"""The ``ingen`` job: run a test-input generator and collect the files it writes.

Keys read: ``exe_file`` (the generator), ``re_string`` (files whose names
match it, from their start, are collected), ``collected_files_path`` (where
they are uploaded), ``use_sandboxes`` (default true: the generator runs
isolated), ``ingen_time_limit`` (600 000 ms), ``ingen_mem_limit``
(262 144 KiB), ``ingen_output_limit`` (10 240 bytes of its messages kept),
``ingen_real_time_limit``, ``ingen_file_size_limit`` (1 GiB: the largest
file collected).

Keys written: ``return_code`` (128 + N when killed by signal N, as upstream), ``real_time_used``, ``stdout`` (lines of its
standard output and error, cut to the output limit), ``real_time_killed``
and, when it exited with 0, ``collected_files`` (``{name: versioned path}``).

The generator's directory is read back with
:mod:`sio.workers.isolation.boxfiles`: of the entries whose names match,
directories are skipped (as upstream); regular files are copied out of the
box without following links and uploaded.  Anything else that matches — a
symbolic link, a FIFO, a device, a name that cannot be a filetracker name
(``t5.in@123`` would be stored as version 123 of ``t5.in``; ``/``, control
characters, invalid UTF-8), a file over ``ingen_file_size_limit`` — fails
the job, naming the file and what is wrong with it; nothing is collected then.

**What the job needs from a node** (:func:`requirements`): the isolated
sandbox unless ``use_sandboxes`` is false, the generator's memory limit (its
files are kept on a tmpfs charged to it) and its wall-clock limit.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from sio.executors.files import fetch_program
from sio.executors.inwer import program_requirements
from sio.workers import ft
from sio.workers.executors import IsolatedExecutor, Limits, UnprotectedExecutor
from sio.workers.isolation.boxfiles import BoxFileError, copy_box_file, list_box_dir, read_box_file
from sio.workers.requirements import Requirements
from sio.workers.results import OK
from sio.workers.util import tempcwd

#: The generator's limits (``ingen_*`` keys) when the environ gives none;
#: the output limit cuts the messages kept, never the files it writes.
LIMITS = Limits(time_limit=600_000, mem_limit=256 << 10, output_limit=10_240)
#: The keys of :data:`LIMITS` in the environ.
PREFIX = 'ingen_'
#: Default of ``ingen_file_size_limit``: the largest generated file collected (bytes).
FILE_SIZE_LIMIT = 1 << 30


class IngenError(Exception):
    """The generator left a file that matches ``re_string`` but cannot be collected."""


def run(environ: dict) -> dict:
    """Run the generator and upload the matching files it wrote."""
    try:
        pattern = re.compile(environ['re_string'])
    except KeyError:
        raise KeyError("environ['re_string'] is required but missing") from None
    except (re.error, TypeError) as exc:
        raise ValueError(f"environ['re_string']: {environ['re_string']!r} is not a valid "
                         f'regular expression: {exc}') from None
    if not isinstance(environ.get('collected_files_path'), str):
        raise ValueError(f"environ['collected_files_path']: {environ.get('collected_files_path')!r}"
                         ' is not a path')
    file_size_limit = environ.get('ingen_file_size_limit', FILE_SIZE_LIMIT)
    if isinstance(file_size_limit, bool) or not isinstance(file_size_limit, int) \
            or file_size_limit < 0:
        raise ValueError(f"environ['ingen_file_size_limit']: {file_size_limit!r} is not a "
                         'number of bytes')
    job_dir = Path(tempcwd())
    box = job_dir / 'box'
    box.mkdir()
    fetch_program(environ, box, 'ingen')
    limits = Limits.resolve(LIMITS, environ, PREFIX)
    executor = IsolatedExecutor() if environ.get('use_sandboxes', True) else UnprotectedExecutor()
    # Generated tests may be large: the output limit only cuts the kept messages,
    # read back from a file of the worker's (never all of it).
    with open(job_dir / 'ingen.stdout', 'wb') as stdout_file:
        result = executor(['./ingen'], cwd=box, stdout=stdout_file, forward_stderr=True,
                          ignore_errors=True, time_limit=limits.time_limit,
                          mem_limit=limits.mem_limit, real_time_limit=limits.real_time_limit,
                          output_limit=None, keep_files=True,
                          file_size_limit=file_size_limit + 1)
    stdout = read_box_file(job_dir, 'ingen.stdout', limits.output_limit).data
    if result.exit_signal == signal.SIGXFSZ:
        raise ValueError(f'the generator wrote a file larger than ingen_file_size_limit '
                         f'({file_size_limit} bytes)')
    # As upstream (a shell's status): a generator killed by signal N returns 128 + N.
    return_code = result.return_code if result.exit_signal is None else 128 + result.exit_signal
    environ.update(return_code=return_code, real_time_used=result.real_time_used,
                   real_time_killed=result.real_time_killed, stdout=stdout.split(b'\n'),
                   result_code=result.result_code, result_string=result.result_string)
    if return_code == 0 and result.result_code == OK:
        environ['collected_files'] = _collect(environ, pattern, box, job_dir / 'collected',
                                              file_size_limit)
    return environ


def requirements(environ: dict, base: Requirements) -> Requirements:
    """The ``sio.workers.requirements`` hook of ``ingen`` (see the module docs)."""
    return program_requirements(environ, base, PREFIX, 'ingen', LIMITS)


def _collect(environ: dict, pattern: re.Pattern, box: Path, staging: Path,
             file_size_limit: int) -> dict[str, str]:
    """Copy the matching files out of the box, then upload them all."""
    staging.mkdir()
    wanted = []
    for entry in list_box_dir(box):
        if not pattern.match(entry.name) or entry.kind == 'directory':
            continue  # only files are collected, as upstream
        if entry.problem:
            raise IngenError(f'the generator wrote {entry.name!r}, which matches re_string but '
                             f'cannot be collected: it {entry.problem}')
        try:
            copy_box_file(box, entry.name, staging / entry.name, file_size_limit)
        except BoxFileError as exc:
            raise IngenError(f'the generator wrote {entry.name!r}, which matches re_string but '
                             f'cannot be collected: it {exc.problem}') from None
        wanted.append(entry.name)
    base = environ['collected_files_path'].rstrip('/')
    return {name: ft.upload_path(environ, str(staging / name), f'{base}/{name}')
            for name in wanted}
