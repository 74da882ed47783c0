"""The ``inwer`` job: run a test-input verifier on one input.

Keys read: ``exe_file`` (the verifier), ``in_file`` (its standard input),
``in_file_name`` (optional, passed as its only argument), ``use_sandboxes``
(default true: isolated, and output beyond the limit is OLE; otherwise it is
cut), ``inwer_time_limit`` (300 000 ms), ``inwer_mem_limit`` (262 144 KiB),
``inwer_output_limit`` (10 240 bytes), ``inwer_real_time_limit``.

Keys written: ``result_code``, ``result_string``, ``time_used``, ``mem_used``,
``return_code``, ``stdout`` (lines of its standard output and error).  By
convention a valid input makes the verifier exit with 0 and print a first line
starting with ``OK``; the job only reports, OIOIOI decides.

**What the job needs from a node** (:func:`requirements`): the isolated
sandbox unless ``use_sandboxes`` is false, the verifier's memory limit and
its wall-clock limit.
"""

from __future__ import annotations

from pathlib import Path

from sio.executors.files import fetch_input, fetch_program
from sio.workers.executors import IsolatedExecutor, Limits, UnprotectedExecutor
from sio.workers.requirements import Requirements, kib_to_mib
from sio.workers.util import tempcwd
from sio.workers.wallbound import run_wall

#: The verifier's limits (``inwer_*`` keys) when the environ gives none.
LIMITS = Limits(time_limit=300_000, mem_limit=256 << 10, output_limit=10_240)
#: The keys of :data:`LIMITS` in the environ.
PREFIX = 'inwer_'


def program_requirements(environ: dict, base: Requirements, prefix: str, name: str,
                         table: Limits) -> Requirements:
    """What a job running one program with the limits ``table`` (keys
    ``prefix*``), boxed unless ``use_sandboxes`` is false, needs: ``ingen``'s
    and ``inwer``'s rule."""
    isolated = bool(environ.get('use_sandboxes', True))
    memory = Limits.resolve(table, environ, prefix).mem_limit or table.mem_limit
    wall = run_wall(environ, prefix, name, isolated=isolated, default_ms=table.time_limit)
    return base.replace(isolated=isolated, exclusive=False, memory_mib=kib_to_mib(memory),
                        cpus=1.0, wall_ms=None if wall is None else wall[0],
                        wall_from=() if wall is None else (wall[1],))


def requirements(environ: dict, base: Requirements) -> Requirements:
    """The ``sio.workers.requirements`` hook of ``inwer`` (see the module docs)."""
    return program_requirements(environ, base, PREFIX, 'inwer', LIMITS)


def run(environ: dict) -> dict:
    """Run the verifier on the input."""
    job_dir = Path(tempcwd())
    box = job_dir / 'box'
    box.mkdir()
    fetch_program(environ, box, 'inwer')
    stdin_path = fetch_input(environ, job_dir)
    args = [str(environ['in_file_name'])] if environ.get('in_file_name') else []
    limits = Limits.resolve(LIMITS, environ, PREFIX)
    executor = IsolatedExecutor() if environ.get('use_sandboxes', True) else UnprotectedExecutor()
    with open(stdin_path, 'rb') as stdin:
        result = executor(['./inwer', *args], cwd=box, stdin=stdin, capture_output=True,
                          forward_stderr=True, split_lines=True, ignore_errors=True,
                          time_limit=limits.time_limit, mem_limit=limits.mem_limit,
                          real_time_limit=limits.real_time_limit,
                          output_limit=limits.output_limit)
    environ.update(result_code=result.result_code, result_string=result.result_string,
                   time_used=result.time_used, mem_used=result.mem_used,
                   return_code=result.return_code, stdout=result.stdout or [])
    return environ
