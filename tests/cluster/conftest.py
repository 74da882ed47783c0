"""Real Ray for the cluster tests: a local single-node Ray, or a multi-node
``ray.cluster_utils.Cluster`` on this machine.  Token auth is off in tests only."""

import os
import re
import time
import urllib.request

import pytest
import ray

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
    runs nothing, with a dashboard (the State API) on a port of its own."""
    return {'num_cpus': 0, 'dashboard_port': free_port(), **args}


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


def wait_until(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns something true (which is returned);
    fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        time.sleep(0.05)
    return value


def state_address() -> str:
    """The address for the State API of the Ray this process is connected to
    (without it, the State API looks for a Ray on the machine, and fails when
    others' test clusters run beside ours)."""
    return ray.get_runtime_context().gcs_address


def tasks_named(name: str) -> list:
    """The attempts of the task named ``name`` that the State API knows."""
    from ray.util.state import list_tasks
    return list_tasks(address=state_address(), filters=[('name', '=', name)],
                      raise_on_missing_output=False)


def assert_no_task_submitted(fragment: str) -> None:
    """No task whose name holds ``fragment`` ever reached Ray.  Rather than wait
    a while for task events: a sentinel job submitted afterwards by this
    driver must show in the State API first (a driver's task events reach the
    GCS in the order it submitted the tasks)."""
    import uuid

    import sio_ray
    from ray.util.state import list_tasks
    sentinel = f'sentinel-{uuid.uuid4().hex[:12]}'
    sio_ray.run({'job_type': 'ping', 'ping': 0, 'job_id': sentinel})
    wait_until(lambda: tasks_named(f'sio:ping:{sentinel}'), 60, 'the sentinel task never showed')
    names = {t.name for t in list_tasks(address=state_address(), limit=10000,
                                        raise_on_missing_output=False)}
    assert not any(fragment in name for name in names), sorted(names)


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
