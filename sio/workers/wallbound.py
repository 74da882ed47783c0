"""How long a job may hold its worker: a wall-clock bound derived from its own limits.

Every program a job runs (the solution, a checker, an interactor, a
compiler, a generator) is stopped at its own wall-clock limit, but the job
around it could still hang: a download that never ends, a checker's feedback
file that is a FIFO nobody writes.  A scheduler therefore stops a job that
runs past :func:`job_wall_bound` (``sio_ray`` does; ``sio-batch`` could).

The bound is what the job's runs may take by their wall-clock limits —
summed over runs that follow one another, the longest of those that run at
once — plus a margin for everything else (downloads, uploads, comparing
outputs).  The wall-clock limit of a run is its ``*_real_time_limit`` when
given, otherwise what the executor defaults it to: twice the time limit plus
one second in a box, twice the time limit unprotected, three times the time
limit for a compiler pass.  Per job type:

``exec``, ``cpu-exec``, ``sio2jail-exec``, ``unsafe-exec``
  the program (``exec_time_limit``, 30 000 ms by default in a box; none
  unprotected) then, with ``check_output`` and ``chk_file``, the checker
  (``checker_time_limit``, 30 000 ms); ``output-only`` runs no program;
``*interactive-exec``
  the solutions and the interactor at once: the longer of the solutions'
  limit and the interactor's (``interactor_real_time_limit``, by default
  twice ``interactor_time_limit``, by default twice ``exec_time_limit``);
  ``num_processes`` solutions run side by side, so their number adds nothing;
``compile``
  up to two compiler passes (javac and jar), each
  ``compilation_real_time_limit`` (three times ``compilation_time_limit``,
  30 000 ms);
``ingen``, ``inwer``
  the generator (``ingen_time_limit``, 600 000 ms) or verifier
  (``inwer_time_limit``, 300 000 ms), boxed unless ``use_sandboxes`` is false;
``ping``, ``ft-check``
  no program: the margin alone.

Other job types (plugins) get ``default_s``, unless the environ says.  The
environ key ``job_real_time_limit`` (milliseconds, like every ``*_limit``)
sets the bound itself, margin included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The environ key that sets a job's bound directly (ms).
KEY = 'job_real_time_limit'
#: Seconds added to what the job's runs may take (downloads, uploads, checking).
DEFAULT_MARGIN_S = 300.0
#: The bound (s) of a job whose limits give none (a plugin's job, an
#: unprotected run without a time limit).
DEFAULT_BOUND_S = 3600.0

#: Executor defaults (ms), as :mod:`sio.workers.executors` and the jobs apply them.
BOX_TIME_LIMIT_MS = 30_000
CHECKER_TIME_LIMIT_MS = 30_000
COMPILE_TIME_LIMIT_MS = 30_000
COMPILE_PASSES = 2
INGEN_TIME_LIMIT_MS = 600_000
INWER_TIME_LIMIT_MS = 300_000
_NO_PROGRAM = frozenset({'ping', 'ft-check'})


@dataclass(frozen=True)
class WallBound:
    """A job's wall-clock bound and where it came from."""

    seconds: float
    #: How it was derived, e.g. ``"from its limits: program 3 s (...) + margin 300 s"``.
    derived_from: str

    def message(self) -> str:
        """The ``exception`` of a job stopped at this bound."""
        return (f'the job ran past its wall-clock bound of {_seconds(self.seconds)} s '
                f'{self.derived_from}')


def _seconds(value: float) -> str:
    return f'{value:g}' if value == int(value) else f'{value:.3g}'


def _number(environ: dict, key: str) -> float | None:
    value = environ.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value < 0):
        raise ValueError(f'environ[{key!r}]: {value!r} is not a non-negative number')
    return value


def _run_ms(environ: dict, prefix: str, name: str, *, isolated: bool,
            default_tl: int | None, explicit_tl: int | None = None,
            real_factor: int | None = None) -> tuple[float, str] | None:
    """The wall-clock limit (ms) of one run and how it follows from the environ.

    ``explicit_tl`` is what the job passes when the environ lacks the key (a
    present ``0`` falls to the executor's default, ``default_tl``, as there);
    ``real_factor`` is a job's own real-time rule (compile: 3 × TL)."""
    key_tl, key_real = f'{prefix}time_limit', f'{prefix}real_time_limit'
    given = _number(environ, key_tl)
    tl = given if key_tl in environ else explicit_tl
    tl = tl or default_tl
    real = _number(environ, key_real)
    if real:
        return real, f'{name} {_seconds(real / 1000)} s ({key_real})'
    if not tl:
        return None
    source = f'{key_tl} {tl:g} ms' if given else f'default time limit {tl:g} ms'
    if real_factor:
        return real_factor * tl, f'{name} {_seconds(real_factor * tl / 1000)} s ' \
                                 f'({real_factor}×{source})'
    if isolated:
        return 2 * tl + 1000, f'{name} {_seconds((2 * tl + 1000) / 1000)} s (2×{source} + 1 s)'
    return 2 * tl, f'{name} {_seconds(2 * tl / 1000)} s (2×{source})'


def _exec_ms(environ: dict, job_type: str) -> tuple[float, list[str]] | None:
    isolated = not job_type.startswith('unsafe-')
    parts: list[tuple[float, str]] = []
    info = environ.get('exec_info')
    if not (isinstance(info, dict) and info.get('mode') == 'output-only'):
        program = _run_ms(environ, 'exec_', 'program', isolated=isolated,
                          default_tl=BOX_TIME_LIMIT_MS if isolated else None)
        if program is None:
            return None
        parts.append(program)
    if environ.get('check_output') and environ.get('chk_file'):
        untrusted = bool(environ.get('untrusted_checker'))
        checker = _run_ms(environ, 'checker_', 'checker', isolated=untrusted,
                          default_tl=BOX_TIME_LIMIT_MS if untrusted else None,
                          explicit_tl=CHECKER_TIME_LIMIT_MS)
        if checker is None:
            return None
        parts.append(checker)
    return sum(ms for ms, _ in parts), [text for _, text in parts]


def _interactive_ms(environ: dict, job_type: str) -> tuple[float, list[str]] | None:
    isolated = not job_type.startswith('unsafe-')
    solutions = _run_ms(environ, 'exec_', 'solutions', isolated=isolated,
                        default_tl=BOX_TIME_LIMIT_MS if isolated else None)
    tl = _number(environ, 'exec_time_limit')
    interactor_tl = _number(environ, 'interactor_time_limit')
    if 'interactor_time_limit' not in environ:
        interactor_tl = 2 * tl if tl is not None else None
    real = _number(environ, 'interactor_real_time_limit')
    if 'interactor_real_time_limit' not in environ and interactor_tl is not None:
        # The job passes 2 × the interactor's time limit as its real-time limit.
        real = 2 * interactor_tl
    interactor = None
    if real:
        interactor = real, f'interactor {_seconds(real / 1000)} s'
    elif interactor_tl or isolated:
        interactor_tl = interactor_tl or BOX_TIME_LIMIT_MS
        ms = 2 * interactor_tl + (1000 if isolated else 0)
        interactor = ms, f'interactor {_seconds(ms / 1000)} s'
    if solutions is None or interactor is None:
        return None
    longer = max(solutions, interactor)
    return longer[0], [f'the longer of {solutions[1]} and {interactor[1]}, run at once']


def _compile_ms(environ: dict) -> tuple[float, list[str]]:
    one = _run_ms(environ, 'compilation_', 'each compiler pass', isolated=True,
                  default_tl=COMPILE_TIME_LIMIT_MS, explicit_tl=COMPILE_TIME_LIMIT_MS,
                  real_factor=3)
    assert one is not None  # a box always has a time limit
    return COMPILE_PASSES * one[0], [f'{COMPILE_PASSES} × {one[1]}']


def _generator_ms(environ: dict, job_type: str, default_tl: int) -> tuple[float, list[str]] | None:
    isolated = bool(environ.get('use_sandboxes', True))
    run = _run_ms(environ, f'{job_type}_', job_type, isolated=isolated,
                  default_tl=BOX_TIME_LIMIT_MS if isolated else None, explicit_tl=default_tl)
    return None if run is None else (run[0], [run[1]])


def own_wall_ms(environ: dict) -> tuple[float, list[str]] | None:
    """What the job's runs may take by their wall-clock limits (ms) and how
    that follows from the environ, or None when its limits give no bound (a
    plugin's job type, an unprotected run without a time limit).  A limit that
    is not a non-negative number raises :class:`ValueError` naming the key."""
    job_type = str(environ.get('job_type', ''))
    if job_type in _NO_PROGRAM:
        return 0, []
    if job_type.endswith('interactive-exec'):
        return _interactive_ms(environ, job_type)
    if job_type.endswith('exec'):
        return _exec_ms(environ, job_type)
    if job_type == 'compile':
        return _compile_ms(environ)
    if job_type == 'ingen':
        return _generator_ms(environ, 'ingen', INGEN_TIME_LIMIT_MS)
    if job_type == 'inwer':
        return _generator_ms(environ, 'inwer', INWER_TIME_LIMIT_MS)
    return None


def job_wall_bound(environ: dict, default_s: float = DEFAULT_BOUND_S,
                   margin_s: float = DEFAULT_MARGIN_S) -> WallBound:
    """The wall-clock bound of the job described by ``environ``: its
    ``job_real_time_limit``, else what its runs may take plus ``margin_s``,
    else ``default_s``.  Bad values raise :class:`ValueError` naming the key."""
    value = environ.get(KEY)
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f'environ[{KEY!r}]: {value!r} is not a positive number of ms')
        return WallBound(value / 1000, f'set by environ[{KEY!r}] ({value:g} ms)')
    own = own_wall_ms(environ)
    if own is None:
        return WallBound(default_s, f"by default: the limits of a {environ.get('job_type')!r} "
                                    'job give none')
    ms, parts = own
    text = ' + '.join([*parts, f'margin {_seconds(margin_s)} s'])
    return WallBound(ms / 1000 + margin_s, f'derived from its limits: {text}')
