"""Real Ray for the cluster tests: a local single-node Ray, or a multi-node
``ray.cluster_utils.Cluster`` on this machine.  Token auth is off in tests only."""

import os

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
    ray.shutdown()
