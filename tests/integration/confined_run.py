"""Runs one program under an executor and prints the result as JSON.

The hostile-program tests start this script confined (a PID namespace of its
own and a pids cgroup, see test_hostile.py), so that a sandbox bug during
development cannot harm the machine.  Usage: ``python -m
tests.integration.confined_run SPEC_JSON``, where the spec names the program,
its arguments, the executor (``isolated`` / ``unprotected``), limits and files
to plant next to the box.  With ``marker``, the report lists the processes
whose command line holds it right after the run, still inside the
confinement (whose PID namespace would kill them on exit); with
``sentinel``, a process of the box's uid runs beside the box, and the report
says whether it survived.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sio.workers.executors import IsolatedExecutor, UnprotectedExecutor
from sio.workers.util import TemporaryCwd
from tests.conftest import processes_with


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
        sentinel = None
        if spec.get('sentinel'):
            sentinel = subprocess.Popen(['sleep', '600'],
                                        user=65534 if os.geteuid() == 0 else None)
        with open(Path(job, 'out'), 'ab') as out:
            result = executor(['./prog', *args], cwd=box, stdout=out, ignore_errors=True,
                              memory_mode=spec.get('memory_mode'), keep_files=spec.get('keep_files'),
                              **spec.get('limits', {}))
        report = result.to_dict()
        if spec.get('marker'):
            report['leftover'] = [p for p in processes_with(spec['marker']) if p != os.getpid()]
        if sentinel is not None:
            report['sentinel_alive'] = sentinel.poll() is None
            sentinel.kill()
            sentinel.wait()
        report['output'] = Path(job, 'out').read_bytes()[:4096].decode('utf-8', 'replace')
        report['output_size'] = os.path.getsize(Path(job, 'out'))
        report['job_dir'] = job
        report['box_listing'] = sorted(os.listdir(box))
        inodes = {}  # disk the box directory takes: each inode's blocks once
        for root, dirs, files in os.walk(box):
            for name in files:
                st = os.lstat(os.path.join(root, name))
                inodes[st.st_dev, st.st_ino] = st.st_blocks * 512
        report['box_bytes'] = sum(inodes.values())
    print(json.dumps(report))


if __name__ == '__main__':
    main()
