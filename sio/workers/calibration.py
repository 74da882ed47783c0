"""How fast and how steady this node runs a program in a box: its calibration.

A contest's verdicts should not depend on the node that measured them.
:func:`measure` runs a fixed reference workload (``calibration.c``: a chain of
80 million xorshift steps, about 0.2 s, compiled once per node like the box
launcher) in a box, through the same :class:`~sio.workers.executors.IsolatedExecutor`
an ``exec`` job uses, :data:`settings.CALIBRATION_RUNS` times (after one
warm-up run that is not counted), and sums it up as a :class:`Calibration`:

* **speed** — :data:`REFERENCE_MS` divided by the median *elapsed* time of a
  run: 1.0 is the reference machine, 0.5 a node where the workload takes
  twice as long;
* **noise** — the coefficient of variation (standard deviation / mean) of
  the elapsed times: 0.02 is a quiet node, 0.2 one whose times vary by a
  fifth from run to run.

A run's *elapsed* time is the larger of its CPU time and its wall-clock
time, both as the box measures them (the run's cgroup, the launcher's
clock).  CPU time alone does not see a node that gives its boxes only part
of a core: under a CPU quota of a quarter of a core, or beside another
process on the same core, the workload's CPU time stays about the same while
its wall-clock time grows four- or twofold — and a program's wall-clock limit
comes that much sooner.  On an idle node the two differ by the box's start
(a few ms); a slower core raises both.

The Ray back-end publishes the result with the node's tags (labels
``sio-speed`` and ``sio-noise``) and keeps timed jobs off nodes much slower
or much noisier than the cluster's median (:mod:`sio_ray.calibration`).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sio.workers import settings

__all__ = ['Calibration', 'CalibrationError', 'measure', 'workload_binary', 'REFERENCE_MS',
           'STEPS', 'EXPECTED']

SOURCE = Path(__file__).with_name('calibration.c')
#: Steps of the reference workload (``calibration.c``'s default).
STEPS = 80_000_000
#: What the workload prints after :data:`STEPS` steps.
EXPECTED = '11835723506968378990'
#: The reference (ms): what the workload takes on the development machine (a
#: 2-vCPU virtual machine, Intel Xeon at 2.1 GHz, gcc 12 ``-O2``) when its
#: box has a core to itself — its CPU time there, 186 to 201 ms in every
#: calibration, plus the box's start, rounded.  A node's speed is this
#: divided by its own median elapsed time.
REFERENCE_MS = 200.0
#: CPU time limit (ms) of one run: a node 25 times slower than the reference
#: is no judge.
RUN_LIMIT_MS = 5000


class CalibrationError(RuntimeError):
    """The reference workload could not be built or did not run as it must."""


@dataclass(frozen=True)
class Calibration:
    """One calibration of a node (see the module docs)."""

    #: :data:`REFERENCE_MS` / the median elapsed ms: 1.0 as fast as the reference.
    speed: float
    #: The coefficient of variation of the elapsed times.
    noise: float
    #: Median CPU time of a run, ms.
    cpu_ms: float
    #: Median wall-clock time of a run, ms.
    wall_ms: float
    #: How many runs were counted.
    runs: int

    @classmethod
    def of_runs(cls, cpu_ms: list[float], wall_ms: list[float]) -> 'Calibration':
        """The calibration of these runs (CPU and wall-clock ms of each, in order)."""
        if len(cpu_ms) != len(wall_ms) or len(cpu_ms) < 2:
            raise ValueError('a calibration needs two runs at least, each with its CPU and '
                             'wall-clock time')
        elapsed = [max(cpu, wall, 1.0) for cpu, wall in zip(cpu_ms, wall_ms)]
        noise = statistics.stdev(elapsed) / statistics.fmean(elapsed)
        return cls(speed=round(REFERENCE_MS / statistics.median(elapsed), 3),
                   noise=round(noise, 3), cpu_ms=float(statistics.median(cpu_ms)),
                   wall_ms=float(statistics.median(wall_ms)), runs=len(elapsed))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'Calibration':
        """From :meth:`to_dict`'s dict; a missing or bad value raises
        :class:`ValueError` naming the key."""
        values = {}
        for key in ('speed', 'noise', 'cpu_ms', 'wall_ms', 'runs'):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'calibration[{key!r}]: {value!r} is not a non-negative number')
            values[key] = value
        return cls(**values)


def workload_binary() -> Path:
    """The compiled reference workload (static, ``-O2``), built once per node
    into the launcher's cache directory (:func:`sio.workers.isolation.launcher.cache_dir`)
    under the name of its source's hash."""
    from sio.workers.isolation.launcher import static_binary
    return static_binary(SOURCE, 'sio-calibration', 'the reference workload', CalibrationError)


def run_once(executor, box_dir: Path, steps: int = STEPS) -> tuple[int, int, str]:
    """One run of the workload in a box: (CPU ms, wall-clock ms, what it printed)."""
    from sio.workers.results import OK
    result = executor(['./calibration', str(steps)], cwd=box_dir, capture_output=True,
                      ignore_errors=True, time_limit=RUN_LIMIT_MS, mem_limit=16 << 10)
    if result.result_code != OK:
        raise CalibrationError(f'the reference workload failed in a box: {result.result_code} '
                               f'({result.result_string})')
    return result.time_used, result.real_time_used, bytes(result.stdout or b'').decode().strip()


def measure(runs: int | None = None) -> Calibration:
    """Calibrate this node: the reference workload in a box, ``runs`` times
    (default :data:`settings.CALIBRATION_RUNS`) after one warm-up run.  Raises
    :class:`CalibrationError` where boxes do not work or a run went wrong."""
    from sio.workers.executors import IsolatedExecutor
    runs = settings.CALIBRATION_RUNS.get() if runs is None else runs
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 2:
        raise ValueError(f'runs: {runs!r} is not a whole number of at least 2')
    executor = IsolatedExecutor()
    cpu, wall = [], []
    with tempfile.TemporaryDirectory(prefix='sio-calibration-') as tmp:
        box_dir = Path(tmp)
        shutil.copy(workload_binary(), box_dir / 'calibration')
        os.chmod(box_dir / 'calibration', 0o755)
        for i in range(runs + 1):
            cpu_ms, wall_ms, printed = run_once(executor, box_dir)
            if printed != EXPECTED:
                raise CalibrationError(f'the reference workload printed {printed!r}, not '
                                       f'{EXPECTED}')
            if i:  # the first run warms the caches up
                cpu.append(cpu_ms)
                wall.append(wall_ms)
    return Calibration.of_runs(cpu, wall)
