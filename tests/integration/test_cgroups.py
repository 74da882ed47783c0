"""Run cgroups a dead worker left behind are removed; live ones never."""

import os
import subprocess
import time
import uuid

import pytest

from sio.workers.isolation import cgroups
from tests.conftest import remove_cgroup

pytestmark = pytest.mark.skipif(cgroups.backend() is None, reason='no writable cgroups here')


def _group(name):
    kind = cgroups.backend()
    return (cgroups.root() / cgroups.PARENT / name if kind == 'v2'
            else cgroups.root() / 'pids' / cgroups.PARENT / name)


def test_only_old_empty_run_groups_are_removed():
    tag = uuid.uuid4().hex[:8]
    # A pid that looks dead here (as a worker in another PID namespace would).
    old, fresh, busy = (_group(f'run-999999-{tag}-{what}') for what in ('old', 'fresh', 'busy'))
    for d in (old, fresh, busy):
        d.mkdir()
    sleeper = subprocess.Popen(['sleep', '60'])
    try:
        (busy / 'cgroup.procs').write_text(str(sleeper.pid))
        past = time.time() - cgroups.ORPHAN_AGE_S - 60
        for d in (old, busy):
            os.utime(d, (past, past))
        cgroups._remove_orphans(cgroups.backend())
        assert not old.exists()
        assert fresh.exists()  # a live run's group before its program joins
        assert busy.exists() and sleeper.poll() is None  # processes are never killed here
    finally:
        sleeper.kill()
        sleeper.wait()
        for d in (fresh, busy):
            remove_cgroup(d)
