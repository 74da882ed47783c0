"""How long a job may hold its worker: a wall-clock bound derived from its own limits.

Every program a job runs (the solution, a checker, an interactor, a
compiler, a generator) is stopped at its own wall-clock limit, but the job
around it could still hang: a download that never ends, a checker's feedback
file that is a FIFO nobody writes.  A scheduler therefore stops a job that
runs past :func:`job_wall_bound` (``sio_ray`` does; ``sio-batch`` could).

The bound is what the job's runs may take by their wall-clock limits —
summed over runs that follow one another, the longest of those that run at
once — plus a margin for everything else (downloads, uploads, comparing
outputs).  Each job declares what its runs may take, from its own limits
table, in its requirements (:attr:`~sio.workers.requirements.Requirements.wall_ms`;
the per-job rules are in the docs of the jobs' modules); :func:`run_wall` is
the rule they share for one run: its ``*_real_time_limit`` when given,
otherwise what the executor defaults it to
(:func:`sio.workers.executors.default_real_time_limit`: twice the time limit,
plus one second in a box).

Job types whose limits give no bound (plugins without a hook, an
unprotected run without a time limit) get ``default_s``, unless the environ
says.  The environ key ``job_real_time_limit`` (milliseconds, like every
``*_limit``) sets the bound itself, margin included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sio.workers.executors import BOX_DEFAULT_LIMITS, REAL_TIME_FACTOR, default_real_time_limit
from sio.workers.requirements import Requirements, number, requirements

__all__ = ['KEY', 'DEFAULT_MARGIN_S', 'DEFAULT_BOUND_S', 'WallBound', 'run_wall',
           'own_wall_ms', 'job_wall_bound']

#: The environ key that sets a job's bound directly (ms).
KEY = 'job_real_time_limit'
#: Seconds added to what the job's runs may take (downloads, uploads, checking).
DEFAULT_MARGIN_S = 300.0
#: The bound (s) of a job whose limits give none (a plugin's job, an
#: unprotected run without a time limit).
DEFAULT_BOUND_S = 3600.0


@dataclass(frozen=True)
class WallBound:
    """A job's wall-clock bound and where it came from."""

    seconds: float
    #: How it was derived, e.g. ``"from its limits: program 3 s (...) + margin 300 s"``.
    derived_from: str

    def message(self) -> str:
        """The ``exception`` of a job stopped at this bound."""
        return (f'the job ran past its wall-clock bound of {seconds_text(self.seconds)} s '
                f'{self.derived_from}')


def seconds_text(value: float) -> str:
    """Seconds as the bound's messages write them (``3``, ``2.5``)."""
    return f'{value:g}' if value == int(value) else f'{value:.3g}'


def run_wall(environ: dict, prefix: str, name: str, *, isolated: bool,
             default_ms: int | None = None,
             real_factor: int | None = None) -> tuple[float, str] | None:
    """The wall-clock limit (ms) of one run with the limits ``environ[prefix +
    'time_limit']`` and ``environ[prefix + 'real_time_limit']``, and how it
    follows from them; None when the run has no wall-clock limit.

    ``default_ms`` is the job's own default time limit (its limits table),
    used when the environ lacks the key; a present ``0`` falls to the
    executor's default (a box's 30 s), as in the executor.  ``real_factor``
    is a job's own real-time rule (compile: 3 × the time limit)."""
    key_tl, key_real = f'{prefix}time_limit', f'{prefix}real_time_limit'
    given = number(environ, key_tl)
    tl = given if key_tl in environ else default_ms
    tl = tl or (BOX_DEFAULT_LIMITS.time_limit if isolated else None)
    real = number(environ, key_real)
    if real:
        return real, f'{name} {seconds_text(real / 1000)} s ({key_real})'
    if not tl:
        return None
    source = f'{key_tl} {tl:g} ms' if given else f'default time limit {tl:g} ms'
    if real_factor:
        return real_factor * tl, f'{name} {seconds_text(real_factor * tl / 1000)} s ' \
                                 f'({real_factor}×{source})'
    ms = default_real_time_limit(tl, isolated)
    extra = ms - REAL_TIME_FACTOR * tl
    extra_text = f' + {seconds_text(extra / 1000)} s' if extra else ''
    return ms, f'{name} {seconds_text(ms / 1000)} s ({REAL_TIME_FACTOR}×{source}{extra_text})'


def own_wall_ms(environ: dict, req: Requirements | None = None) -> tuple[float, list[str]] | None:
    """What the job's runs may take by their wall-clock limits (ms) and how
    that follows from the environ, as its requirements declare; None when its
    limits give no bound.  A limit that is not a non-negative number raises
    :class:`ValueError` naming the key."""
    req = req or requirements(environ)
    if req.wall_ms is None:
        return None
    return req.wall_ms, list(req.wall_from)


def job_wall_bound(environ: dict, default_s: float = DEFAULT_BOUND_S,
                   margin_s: float = DEFAULT_MARGIN_S,
                   req: Requirements | None = None) -> WallBound:
    """The wall-clock bound of the job described by ``environ`` (whose
    requirements are ``req``, if already known): its ``job_real_time_limit``,
    else what its runs may take plus ``margin_s``, else ``default_s``.  Bad
    values raise :class:`ValueError` naming the key."""
    value = environ.get(KEY)
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f'environ[{KEY!r}]: {value!r} is not a positive number of ms')
        return WallBound(value / 1000, f'set by environ[{KEY!r}] ({value:g} ms)')
    own = own_wall_ms(environ, req)
    if own is None:
        return WallBound(default_s, f"by default: the limits of a {environ.get('job_type')!r} "
                                    'job give none')
    ms, parts = own
    text = ' + '.join([*parts, f'margin {seconds_text(margin_s)} s'])
    return WallBound(ms / 1000 + margin_s, f'derived from its limits: {text}')
