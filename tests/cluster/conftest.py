"""Real Ray for the cluster tests: a local single-node Ray, or a multi-node
``ray.cluster_utils.Cluster`` on this machine.  Token auth is off in tests only."""

import contextlib
import os
import re
import time
import urllib.request

import pytest
import ray

from tests.conftest import wait_until

os.environ['RAY_AUTH_MODE'] = 'disabled'  # tests only; real use keeps token auth on


def pytest_collection_modifyitems(items):
    for item in items:
        if '/cluster/' in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a Ray of a test: others' test
    clusters on this machine take Ray's default ports)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def head_args(**args) -> dict:
    """``head_node_args`` of a test's ``ray.cluster_utils.Cluster``: a head that
    runs nothing, with a dashboard (the State API) and a node agent (its log
    calls) on ports of their own (the cluster's other nodes pick theirs)."""
    return {'num_cpus': 0, 'dashboard_port': free_port(),
            'dashboard_agent_listen_port': free_port(), **args}


@pytest.fixture(scope='module')
def local_ray():
    """The embedded default: sio_ray starts a local Ray tagged by probing this machine."""
    import sio_ray
    sio_ray.connect(num_cpus=2, dashboard_port=free_port(),
                    _system_config={'metrics_report_interval_ms': 1000})
    yield
    sio_ray.shutdown()


def scrape_metrics(names, timeout: float = 60.0) -> dict[str, float]:
    """The sum over the alive nodes of each of the Prometheus metrics ``names``
    (all series; a counter's ``_total`` too), polled until every one is above
    zero or ``timeout`` passed (nodes export every second or so)."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dict.fromkeys(names, 0.0)
        for node in ray.nodes():
            if not node['Alive']:
                continue
            url = f"http://127.0.0.1:{node['MetricsExportPort']}/metrics"
            try:
                text = urllib.request.urlopen(url, timeout=10).read().decode()
            except OSError:  # a node just lost, or its agent not up yet
                continue
            for name in names:
                pattern = r'^%s(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$' % re.escape(name)
                found[name] += sum(float(v) for v in re.findall(pattern, text, re.M))
        if all(found.values()):
            break
        time.sleep(1)
    return found


def state_address() -> str:
    """The address for the State API of the Ray this process is connected to
    (without it, the State API looks for a Ray on the machine, and fails when
    others' test clusters run beside ours)."""
    return ray.get_runtime_context().gcs_address


def tasks_named(name: str) -> list:
    """The attempts of the tasks named ``name`` (``sio:<job type>``) that the State API knows."""
    from ray.util.state import list_tasks
    return list_tasks(address=state_address(), filters=[('name', '=', name)], limit=10000,
                      raise_on_missing_output=False)


def attempts_of(task_id: str, detail: bool = False) -> list:
    """The attempts of the Ray task ``task_id`` (a result's ``ray_task_id``)
    that the State API knows."""
    from ray.util.state import list_tasks
    return list_tasks(address=state_address(), filters=[('task_id', '=', task_id)],
                      detail=detail, raise_on_missing_output=False)


def _flush_task_events() -> None:
    """A sentinel job of a type of its own, waited for in the State API: the
    task events this driver sent before it are in the GCS (a driver's task
    events reach it in the order it submitted the tasks)."""
    import uuid

    import sio_ray
    sentinel = f'sentinel-{uuid.uuid4().hex[:12]}'
    result = sio_ray.run({'job_type': 'test-results-only', 'job_id': sentinel})
    wait_until(lambda: attempts_of(result['ray_task_id']), 60, 'the sentinel task never showed')


@contextlib.contextmanager
def no_task_submitted(*job_types: str):
    """Whatever runs inside hands Ray no task of ``job_types`` (counted in the
    State API before and after, which sentinel jobs make up to date)."""
    def counts():
        _flush_task_events()
        return {job_type: len(tasks_named(f'sio:{job_type}')) for job_type in job_types}
    before = counts()
    yield
    assert counts() == before


def descendants(pid: int) -> dict[int, bytes]:
    """The processes below ``pid`` (children, theirs, ...) with their command lines."""
    from pathlib import Path
    children: dict[int, list[int]] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, bytes] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                found[child] = Path(f'/proc/{child}/cmdline').read_bytes()
            except OSError:
                continue
            todo.append(child)
    return found


def alive(pids) -> list[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    left = []
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                if f.read().rsplit(')', 1)[1].split()[0] != 'Z':
                    left.append(pid)
        except OSError:
            pass
    return left


def listening_sockets(pids) -> list[tuple[str, int, int]]:
    """The TCP sockets in LISTEN state held by ``pids``: (address, port, pid)."""
    import socket
    from pathlib import Path
    owners = {}
    for pid in pids:
        try:
            fds = os.listdir(f'/proc/{pid}/fd')
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f'/proc/{pid}/fd/{fd}')
            except OSError:
                continue
            if link.startswith('socket:['):
                owners[link[8:-1]] = pid
    found = []
    for table, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6)):
        for line in Path(f'/proc/net/{table}').read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != '0A' or fields[9] not in owners:  # 0A: LISTEN
                continue
            hexaddr, hexport = fields[1].split(':')
            raw = bytes.fromhex(hexaddr)
            raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # host order words
            found.append((socket.inet_ntop(family, raw), int(hexport, 16), owners[fields[9]]))
    return found


def is_loopback(address: str) -> bool:
    return address.startswith('127.') or address in ('::1', '::ffff:127.0.0.1') or \
        address.startswith('::ffff:127.')


class RayProcesses:
    """Ray nodes a test starts with ``ray start`` command lines (run as given,
    through ``bash -c``) in a temporary directory of its own, on explicit
    ports; :meth:`stop` ends exactly the processes of this directory and
    their children, never anyone else's Ray (no ``ray stop``)."""

    def __init__(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix='sio-ray-')  # short: Ray's socket paths are limited

    def run(self, command: str, env: dict | None = None, timeout: float = 180):
        import subprocess
        done = subprocess.run(['bash', '-c', command], env={**os.environ, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f'{command}\n{done.stdout}\n{done.stderr}'
        return done

    def pids(self) -> set[int]:
        """The processes of this directory: named in their command line or
        environment (what the commands started, and what those started)."""
        from pathlib import Path
        mine = set()
        for entry in Path('/proc').iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                for part in ('cmdline', 'environ'):
                    try:
                        if self.dir.encode() in (entry / part).read_bytes():
                            mine.add(int(entry.name))
                            break
                    except OSError:
                        pass
        for pid in list(mine):
            mine |= set(descendants(pid))
        return mine

    def stop(self) -> None:
        import signal
        from sio.workers.util import rmtree
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + wait
            while alive(pids) and time.monotonic() < deadline:
                time.sleep(0.1)
        rmtree(self.dir)
