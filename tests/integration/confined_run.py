"""Runs one program under an executor and prints the result as JSON.

The hostile-program tests start this script confined (a PID namespace of its
own and a pids cgroup, see test_hostile.py), so that a sandbox bug during
development cannot harm the machine.  Usage: ``python -m
tests.integration.confined_run SPEC_JSON``, where the spec names the program,
its arguments, the executor (``isolated`` / ``unprotected``), limits and files
to plant next to the box.
"""

import json
import os
import shutil
import sys
from pathlib import Path

from sio.workers.executors import IsolatedExecutor, UnprotectedExecutor
from sio.workers.util import TemporaryCwd


def main() -> None:
    spec = json.loads(sys.argv[1])
    with TemporaryCwd() as job:
        box = Path(job, 'box')
        box.mkdir()
        shutil.copy(spec['program'], box / 'prog')
        for name, content in spec.get('plant', {}).items():  # beside the box, not in it
            Path(job, name).write_text(content)
        if spec.get('executor', 'isolated') == 'isolated':
            executor = IsolatedExecutor(seccomp=spec.get('seccomp', True))
        else:
            executor = UnprotectedExecutor()
        args = [a.replace('{job}', job) for a in spec.get('args', [])]
        with open(Path(job, 'out'), 'ab') as out:
            result = executor(['./prog', *args], cwd=box, stdout=out, ignore_errors=True,
                              **spec.get('limits', {}))
        report = result.to_dict()
        report['output'] = Path(job, 'out').read_bytes()[:4096].decode('utf-8', 'replace')
        report['output_size'] = os.path.getsize(Path(job, 'out'))
        report['job_dir'] = job
        report['box_listing'] = sorted(os.listdir(box))
    print(json.dumps(report))


if __name__ == '__main__':
    main()
