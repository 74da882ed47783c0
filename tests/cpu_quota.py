"""A CPU quota for processes of a test: a cgroup of its own with ``cpu.max``
(v2) or ``cpu.cfs_quota_us`` (v1), which slows them down for real — their
CPU time stays, their wall-clock time grows."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import remove_cgroup

ROOT = Path('/sys/fs/cgroup')
PERIOD_US = 100_000


class CpuQuota:
    """A cgroup whose processes get at most ``fraction`` of one CPU."""

    def __init__(self, fraction: float):
        name = f'sio-test-quota-{os.getpid()}-{uuid.uuid4().hex[:8]}'
        quota = max(1000, int(PERIOD_US * fraction))
        v1 = ROOT / 'cpu'
        if (v1 / 'cpu.cfs_quota_us').exists():
            self.dir, self.parent = v1 / name, v1
            self.dir.mkdir()
            (self.dir / 'cpu.cfs_period_us').write_text(str(PERIOD_US))
            (self.dir / 'cpu.cfs_quota_us').write_text(str(quota))
        elif 'cpu' in (ROOT / 'cgroup.controllers').read_text().split():
            self.dir, self.parent = ROOT / name, ROOT
            (ROOT / 'cgroup.subtree_control').write_text('+cpu')
            self.dir.mkdir()
            (self.dir / 'cpu.max').write_text(f'{quota} {PERIOD_US}')
        else:
            raise OSError('no cgroup cpu controller')

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group."""
        with contextlib.suppress(ProcessLookupError):
            (self.dir / 'cgroup.procs').write_text(str(pid))

    def add_tree(self, pid: int) -> list[int]:
        """Move ``pid`` and every descendant of it into the group; their pids."""
        moved, todo = [], [pid]
        while todo:
            current = todo.pop()
            self.add(current)
            moved.append(current)
            with contextlib.suppress(OSError):
                for task in Path(f'/proc/{current}/task').iterdir():
                    children = (task / 'children').read_text().split()
                    todo += [int(c) for c in children]
        return moved

    def remove(self) -> None:
        """Move what is left back to the parent and delete the group."""
        remove_cgroup(self.dir, evacuate_to=self.parent)


@contextlib.contextmanager
def cpu_quota(fraction: float):
    """A :class:`CpuQuota` for the block (the test is skipped where none can be made)."""
    try:
        group = CpuQuota(fraction)
    except OSError as exc:
        pytest.skip(f'no cgroup CPU quota here: {exc}')
    try:
        yield group
    finally:
        group.remove()
