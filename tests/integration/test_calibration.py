"""Node calibration for real: the reference workload in a real box, and a node
slowed for real by a CPU quota on its boxes (a cgroup) measures slower."""

import json
import subprocess
import sys

from sio.workers import calibration
from sio.workers.executors import IsolatedExecutor
from tests.cpu_quota import cpu_quota


def test_the_workload_computes_what_python_computes(tmp_path):
    import shutil
    shutil.copy(calibration.workload_binary(), tmp_path / 'calibration')
    x, mask = 88172645463325252, (1 << 64) - 1
    for _ in range(1000):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
    assert calibration.run_once(IsolatedExecutor(), tmp_path, steps=1000)[2] == str(x)


def test_a_node_calibrates_in_a_box():
    found = calibration.measure(runs=3)
    assert found.runs == 3 and 0 < found.speed < 10 and found.noise >= 0
    assert 50 < found.cpu_ms < 2000  # about 0.2 s of CPU on any judging machine
    assert found.wall_ms >= found.cpu_ms * 0.9


MEASURE = 'import json; from sio.workers import calibration; ' \
          'print(json.dumps(calibration.measure(runs=3).to_dict()))'


def _measure_in(group=None) -> calibration.Calibration:
    """A calibration by a process of its own (in ``group`` from its start)."""
    prefix = f'echo $$ > {group.dir}/cgroup.procs && ' if group else ''
    done = subprocess.run(['bash', '-c', f'{prefix}exec {sys.executable} -c "{MEASURE}"'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return calibration.Calibration.from_dict(json.loads(done.stdout.splitlines()[-1]))


def test_a_cpu_quota_on_the_boxes_makes_the_node_measurably_slower():
    free = _measure_in()
    with cpu_quota(0.15) as group:  # at most 15 % of a core, for the boxes too
        slowed = _measure_in(group)
    print(f'free: {free}\nunder a 15 % quota: {slowed}')
    # The CPU time is about the same; what the box got of the core is not.
    assert slowed.cpu_ms < free.cpu_ms * 1.5
    assert slowed.speed < free.speed * 0.6, (free, slowed)
    assert slowed.wall_ms > 3 * slowed.cpu_ms
