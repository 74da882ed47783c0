"""Node calibration: what a node slowed for real measures, against the same
machine measured in the same run.

    .venv/bin/python benchmarks/bench_calibration.py [--quick]

Three calibrations (:func:`sio.workers.calibration.measure`, the reference
workload in a real box), each by a process of its own, taken in turns:

* *free*: the machine as it is;
* *quota*: the process (and so its boxes) in a cgroup with a CPU quota of a
  quarter of a core (``cpu.cfs_quota_us``, or ``cpu.max``);
* *hog*: the process pinned to CPU 0 beside a busy loop pinned there too.

Each prints its speed, noise (CV), median CPU and wall-clock ms, and its
speed as a ratio of the free one.  Needs root for the cgroup (skipped
otherwise).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from timing import quick_flag

MEASURE = ('import json; from sio.workers import calibration; '
           'print(json.dumps(calibration.measure(runs={runs}).to_dict()))')
QUOTA = 0.25


def _quota_group() -> tuple[Path, Path] | None:
    """A cgroup limited to :data:`QUOTA` of a core, and its parent (None: none here)."""
    root = Path('/sys/fs/cgroup')
    name = f'sio-bench-quota-{uuid.uuid4().hex[:8]}'
    try:
        if (root / 'cpu' / 'cpu.cfs_quota_us').exists():
            group = root / 'cpu' / name
            group.mkdir()
            (group / 'cpu.cfs_quota_us').write_text(str(int(QUOTA * 100_000)))
            return group, root / 'cpu'
        group = root / name
        group.mkdir()
        (group / 'cpu.max').write_text(f'{int(QUOTA * 100_000)} 100000')
        return group, root
    except OSError:
        return None


def calibrate(runs: int, prefix: str = '', argv_prefix: tuple = ()) -> dict:
    program = f'{" ".join(argv_prefix)} {sys.executable} -c "{MEASURE.format(runs=runs)}"'
    command = f'{prefix}exec {program}'
    done = subprocess.run(['bash', '-c', command], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    runs = 3 if quick_flag() else 7
    rounds = 1 if runs == 3 else 2
    found: dict[str, list[dict]] = {'free': [], 'quota': [], 'hog': []}
    quota = _quota_group()
    for _ in range(rounds):
        found['free'].append(calibrate(runs))
        if quota is not None:
            found['quota'].append(calibrate(runs, f'echo $$ > {quota[0]}/cgroup.procs && '))
        hog = subprocess.Popen(['taskset', '-c', '0', 'sh', '-c', 'while :; do :; done'])
        try:
            found['hog'].append(calibrate(runs, argv_prefix=('taskset', '-c', '0')))
        finally:
            hog.kill()
            hog.wait()
    if quota is not None:
        quota[0].rmdir()
    free = sum(c['speed'] for c in found['free']) / len(found['free'])
    print(f'node calibration ({runs} runs each, {rounds} round(s); speed 1.0 = the reference)')
    for name, calibrations in found.items():
        if not calibrations:
            print(f'  {name:<6} (no cgroup CPU quota here)')
            continue
        speed = sum(c['speed'] for c in calibrations) / len(calibrations)
        noise = sum(c['noise'] for c in calibrations) / len(calibrations)
        cpu = sum(c['cpu_ms'] for c in calibrations) / len(calibrations)
        wall = sum(c['wall_ms'] for c in calibrations) / len(calibrations)
        print(f'  {name:<6} speed {speed:6.3f}   noise {noise:6.3f}   CPU {cpu:7.1f} ms   '
              f'wall {wall:7.1f} ms   speed ratio to free {speed / free:5.2f}')


if __name__ == '__main__':
    main()
