"""The ``compile`` job and ``sio-compile``.

Keys read: ``source_file``, ``out_file``, ``compiler`` (default
``default-<extension of source_file>``; the ``sio.compilers`` entry point is
the part before the first ``.``), ``compilation_time_limit`` (30 000 ms of CPU
time), ``compilation_real_time_limit`` (default three times that),
``compilation_mem_limit`` (524 288 KiB), ``compilation_output_limit`` (5 120
bytes of compiler messages kept; ``None``: all), ``compilation_result_size_limit``
(bytes), ``additional_includes``, ``additional_sources`` (a path, a list, or a
per-language dict), ``additional_archive`` (a zip unpacked next to the source,
never overwriting it and never writing outside), ``extra_files``
(``{name: path}``), ``extra_compilation_args`` (a string, a list or a
per-language dict), ``problem_short_name`` (the Java class name).

Keys written: ``result_code`` (``OK``/``CE``), ``compiler_output``,
``compiler_toolchain``, ``exec_info`` (on OK), ``out_file`` (versioned).

**What the job needs from a node** (:func:`requirements`): the isolated
sandbox, its compiler's toolchain (:func:`toolchain`: the node's own, or the
compiler's named toolchain sandbox where it can be fetched),
``compilation_mem_limit`` (the compiler's box, its tmpfs included;
passes follow one another) and up to :data:`~sio.compilers.common.MAX_PASSES`
passes' wall-clock limits (:data:`sio.compilers.common.LIMITS`).  Upstream's
scheduler read ``compile_mem_limit``, which no compiler reads.
"""

from __future__ import annotations

import json
import os
import sys

from sio.compilers import common
from sio.workers import ft, plugins, settings
from sio.workers.executors import Limits
from sio.workers.requirements import Requirements, kib_to_mib
from sio.workers.results import OK, SUCCESS
from sio.workers.wallbound import run_wall


def compiler_name(environ: dict) -> str:
    if environ.get('compiler'):
        return str(environ['compiler'])
    source = str(environ.get('source_file', ''))
    extension = os.path.splitext(ft.unversioned(source))[1].lstrip('.').lower()
    if not extension:
        raise ValueError("environ['compiler'] is missing and environ['source_file'] has no "
                         'extension to choose a default compiler by')
    return f'default-{extension}'


def toolchain(name: str) -> tuple[tuple[str, ...], str | None]:
    """The runtimes (:mod:`sio.workers.toolchains`) compiler ``name`` needs on
    the node, and the named toolchain sandbox that serves instead where it
    can be fetched; nothing for a compiler of a plugin or ``output-only``."""
    from sio.compilers import fpc, gcc, java, python
    name = name.split('.')[0]
    if name in java.COMPILERS:
        return ('java',), java.COMPILERS[name]
    if name in fpc.COMPILERS:
        return ('fpc',), fpc.COMPILERS[name]
    if name in gcc.COMPILERS:
        lang, sandbox, _options = gcc.COMPILERS[name]
        return ('gcc' if lang == 'c' else 'gxx',), sandbox
    if name in python.COMPILERS:
        return ('python',), None
    return (), None


def requirements(environ: dict, base: Requirements) -> Requirements:
    """The ``sio.workers.requirements`` hook of ``compile`` (see the module docs)."""
    try:
        runtimes, sandbox = toolchain(compiler_name(environ))
    except ValueError:  # no compiler to tell by: the job itself says so
        runtimes, sandbox = (), None
    table = common.LIMITS
    memory = Limits.resolve(table, environ, common.PREFIX).mem_limit or table.mem_limit
    one = run_wall(environ, common.PREFIX, 'each compiler pass', isolated=True,
                   default_ms=table.time_limit, real_factor=common.REAL_TIME_FACTOR)
    assert one is not None  # a box always has a time limit
    passes = common.MAX_PASSES
    return base.replace(isolated=True, exclusive=False, memory_mib=kib_to_mib(memory), cpus=1.0,
                        wall_ms=passes * one[0], wall_from=(f'{passes} × {one[1]}',),
                        runtimes=runtimes, toolchain_sandbox=sandbox)


def run(environ: dict) -> dict:
    """Compile ``source_file`` into ``out_file``."""
    if not environ.get('source_file'):
        raise KeyError("environ['source_file'] is required but missing")
    environ['compiler'] = compiler_name(environ)
    compiler = plugins.load(plugins.COMPILERS, environ['compiler'].split('.')[0])
    environ = compiler(environ)
    for key in ('result_code', 'compiler_output'):
        if key not in environ:
            raise RuntimeError(f'compiler {environ["compiler"]!r} did not set {key!r}')
    return environ


_USAGE = 'usage: sio-compile SOURCE OUTPUT [COMPILER [EXTRA_ARGS...]]'


def main(argv: list[str] | None = None) -> int:
    """``sio-compile``: compile a local or filetracker source, print the result environ."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] in ('-h', '--help'):
        print(_USAGE, file=sys.stderr)
        return 1
    environ = {'job_type': 'compile', 'source_file': args[0], 'out_file': args[1],
               'use_filetracker': 'auto'}
    if len(args) > 2:
        compiler = args[2].lower()
        environ['compiler'] = compiler if '-' in compiler else f'default-{compiler}'
        environ['extra_compilation_args'] = args[3:]
    if settings.FILETRACKER_URL.get():
        environ['filetracker_url'] = settings.FILETRACKER_URL.get()
    from sio.workers.runner import run as run_job
    result = run_job(environ)
    print(json.dumps(result, indent=2))
    return 0 if result.get('result') == SUCCESS and result.get('result_code') == OK else 1
