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


@pytest.fixture(scope='module')
def local_ray():
    """The embedded default: sio_ray starts a local Ray tagged by probing this machine."""
    import sio_ray
    sio_ray.connect(num_cpus=2, _system_config={'metrics_report_interval_ms': 1000})
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
