"""Running a job: :func:`run` for Python, ``sio-batch`` for the shell."""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
from typing import Any

from sio.workers import environ as envmod
from sio.workers import plugins
from sio.workers.results import RESULT_KEYS, SUCCESS, failure
from sio.workers.util import TemporaryCwd

logger = logging.getLogger(__name__)

# The working directory is process-wide: jobs started from several threads of
# one process take turns (re-entrant, so a job may run a nested job).
_job_lock = threading.RLock()


def _apply_filters(environ: dict, key: str) -> dict:
    names = environ.get(key) or []
    if isinstance(names, str) or not isinstance(names, list):
        raise ValueError(f'environ[{key!r}]: {names!r} is not a list of filter names')
    for name in names:
        environ = _as_environ(plugins.load(plugins.FILTERS, name)(environ), environ,
                              f'filter {name!r}')
    return environ


def _as_environ(returned: Any, given: dict, who: str) -> dict:
    """The environ after a job or filter: its return value, merged into ``given``
    when it returned another dict (upstream ingen/inwer return only results)."""
    if returned is None or returned is given:
        return given
    if not isinstance(returned, dict):
        raise TypeError(f'{who} returned {type(returned).__name__}, not the environ dict')
    given.update(returned)
    return given


def _run_job(environ: dict) -> dict:
    if environ.get('filetracker_url'):
        from sio.workers import ft  # imported on use: requests costs ~50 ms at start-up

        ft.init_instance(environ['filetracker_url'])
    environ = _apply_filters(environ, 'prefilters')
    environ['worker'] = platform.node()
    job_type = environ.get('job_type')
    if not job_type:
        known = ', '.join(plugins.names(plugins.JOBS))
        raise KeyError(f"environ['job_type'] is missing; known jobs: {known}")
    if not isinstance(job_type, str):
        raise TypeError(f"environ['job_type']: {job_type!r} is not a string")
    job = plugins.load(plugins.JOBS, job_type)
    environ = _as_environ(job(environ), environ, f'job {job_type!r}')
    for key in RESULT_KEYS:
        environ.pop(key, None)  # stale results of an earlier run
    environ['result'] = SUCCESS
    return _apply_filters(environ, 'postfilters')


def _failed(environ: dict, exc: BaseException) -> dict:
    """The environ of a job that failed with ``exc`` (:func:`sio.workers.results.failure`)."""
    result = failure(environ, exc)
    logger.error('Job %s failed: %s', result.get('job_type'), result['exception'])
    return result


def _finish(environ: dict) -> dict:
    """Make the result a valid environ (jobs may leave bytes or tuples in it).
    A value that cannot be made valid is replaced by its ``repr`` and the job
    fails, naming the key; the rest of the environ is kept."""
    try:
        return envmod.normalize(environ)
    except envmod.EnvironError as first_error:
        result = {}
        for key, value in environ.items():
            try:
                result.update(envmod.normalize({key: value}))
            except envmod.EnvironError:
                result[str(key)] = repr(value)
        return _failed(result, first_error)


def run(environ: dict) -> dict:
    """Perform the job described by ``environ`` and return the environ with its results.

    The job runs in a fresh temporary directory, which is also the process's
    working directory while it runs and is deleted afterwards.  Steps:
    ``filetracker_url`` selects the filetracker client; the ``prefilters``
    run; ``worker`` is set to the host name; the job registered as
    ``job_type`` in entry-point group ``sio.jobs`` runs; ``result`` becomes
    ``SUCCESS``; the ``postfilters`` run.

    Any exception from a filter or the job (``SystemExit`` included) ends the
    job with ``result: FAILURE``, ``exception`` and ``traceback``, and the
    environ is returned (postfilters still run); ``run`` itself does not raise
    for job errors.  Only an ``environ`` that is not a dict raises
    :class:`TypeError`, and ``KeyboardInterrupt`` (cancellation) propagates.
    """
    if not isinstance(environ, dict):
        raise TypeError(f'environ must be a dict, not {type(environ).__name__}')
    with _job_lock, TemporaryCwd(chdir=True):
        current = environ
        try:
            envmod.validate(environ)
            current = _run_job(environ)
        except (Exception, SystemExit) as exc:  # a job calling sys.exit() is a job error too
            current = _failed(current, exc)
            try:
                current = _apply_filters(current, 'postfilters')
            except Exception:
                logger.exception('A postfilter failed after the job had failed')
        return _finish(current)


_USAGE = '''usage: sio-batch [--file PATH | -] [JOB_TYPE]

Runs one job.  The JSON environ comes from the environment variable "environ",
from --file PATH, or from standard input ("-").  JOB_TYPE overrides
environ["job_type"]; the variables "prefilters"/"postfilters" (space-separated
names) are appended to the environ's filter lists.  The result is printed
between "--- BEGIN ENVIRON ---" and "--- END ENVIRON ---".  Exit status: 0 when
the job succeeded, 1 when it failed, 2 when the input was unusable.'''


class _UsageError(Exception):
    pass


def _read_input(argv: list[str]) -> dict:
    args = list(argv)
    if args[:1] in (['-h'], ['--help']):
        print(_USAGE)
        raise SystemExit(0)
    if args[:1] == ['--file']:
        if len(args) < 2:
            raise _UsageError('--file needs a PATH')
        try:
            with open(args[1], 'rb') as f:
                text = f.read()
        except OSError as exc:
            raise _UsageError(f'cannot read {args[1]}: {exc.strerror}') from None
        args = args[2:]
    elif args[:1] == ['-']:
        text = sys.stdin.buffer.read()
        args = args[1:]
    else:
        text = os.environ.get('environ')
        if text is None:
            raise _UsageError('no environ: set the "environ" variable, or use --file PATH or -')
    if len(args) > 1:
        raise _UsageError(f'expected at most one argument (the job type), got {len(args)}: {args}')
    try:
        environ = envmod.from_json(text)
    except envmod.EnvironError as exc:
        raise _UsageError(str(exc)) from None
    if args:
        environ['job_type'] = args[0]
    for key in ('prefilters', 'postfilters'):
        extra = os.environ.get(key, '').split()
        if extra:
            current = environ.get(key) or []
            if not isinstance(current, list):
                raise _UsageError(f'environ[{key!r}]: {current!r} is not a list of filter names')
            environ[key] = current + extra
    return environ


def main(argv: list[str] | None = None) -> int:
    """``sio-batch``: run one job from JSON and print the resulting environ."""
    try:
        environ = _read_input(sys.argv[1:] if argv is None else argv)
    except _UsageError as exc:
        print(f'sio-batch: {exc}', file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr, format='%(asctime)s %(levelname)s %(name)s: %(message)s',
        level=logging.DEBUG if environ.get('debug') else logging.INFO)
    # Whatever the job or its children print must not mix with the result.
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run(environ)
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
    print('--- BEGIN ENVIRON ---')
    print(envmod.to_json(result))
    print('--- END ENVIRON ---', flush=True)
    return 0 if result.get('result') == SUCCESS else 1


if __name__ == '__main__':
    sys.exit(main())
