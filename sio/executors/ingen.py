"""The ``ingen`` job: run a test-input generator and collect the files it writes.

Keys read: ``exe_file`` (the generator), ``re_string`` (files whose names
match it, from their start, are collected), ``collected_files_path`` (where
they are uploaded), ``use_sandboxes`` (default true: the generator runs
isolated), ``ingen_time_limit`` (600 000 ms), ``ingen_mem_limit``
(262 144 KiB), ``ingen_output_limit`` (10 240 bytes of its messages kept),
``ingen_real_time_limit``.

Keys written: ``return_code`` (128 + N when killed by signal N, as upstream), ``real_time_used``, ``stdout`` (lines of its
standard output and error, cut to the output limit), ``real_time_killed``
and, when it exited with 0, ``collected_files`` (``{name: versioned path}``).
"""

from __future__ import annotations

import re
from pathlib import Path

from sio.executors.files import fetch_program
from sio.workers import ft
from sio.workers.executors import IsolatedExecutor, Limits, UnprotectedExecutor
from sio.workers.util import tempcwd

DEFAULTS = {'time_limit': 600_000, 'mem_limit': 262_144, 'output_limit': 10_240}


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
    box = Path(tempcwd('box'))
    box.mkdir()
    fetch_program(environ, box, 'ingen')
    limits = Limits.resolve(DEFAULTS, environ, 'ingen_')
    executor = IsolatedExecutor() if environ.get('use_sandboxes', True) else UnprotectedExecutor()
    # Generated tests may be large: the output limit only cuts the kept messages.
    result = executor(['./ingen'], cwd=box, capture_output=True, forward_stderr=True,
                      ignore_errors=True, time_limit=limits.time_limit, mem_limit=limits.mem_limit,
                      real_time_limit=limits.real_time_limit, output_limit=None)
    stdout = (result.stdout or b'')[:limits.output_limit]
    # As upstream (a shell's status): a generator killed by signal N returns 128 + N.
    return_code = result.return_code if result.exit_signal is None else 128 + result.exit_signal
    environ.update(return_code=return_code, real_time_used=result.real_time_used,
                   real_time_killed=result.real_time_killed, stdout=stdout.split(b'\n'),
                   result_code=result.result_code, result_string=result.result_string)
    if return_code == 0 and result.result_code == 'OK':
        collected = {}
        base = environ['collected_files_path'].rstrip('/')
        for path in sorted(box.iterdir()):
            if path.is_file() and not path.is_symlink() and pattern.match(path.name):
                collected[path.name] = ft.upload_path(environ, str(path), f'{base}/{path.name}')
        environ['collected_files'] = collected
    return environ
