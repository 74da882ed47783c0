"""An autoscaling Ray cluster on this machine, for tests and benchmarks: a real
head started by ``ray start`` with Ray's fake multi-node provider, whose
autoscaler starts and stops real worker nodes (raylets) of the node types the
config describes.

The config is built here (the provider's example config is missing from the
installed wheel, which breaks Ray's own ``AutoscalingCluster``), the head
takes explicit ports, everything lives in a temporary directory of its own
and binds to 127.0.0.1, and :meth:`FakeAutoscalingCluster.stop` ends exactly
these processes (``AutoscalingCluster`` runs ``ray stop --force``, which
would stop every Ray on the machine).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.cluster.conftest import RayProcesses, free_port

RAY = str(Path(sys.executable).with_name('ray'))
SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))
HEAD_TYPE = 'ray.head.default'


class FakeAutoscalingCluster:
    """A head with no CPUs, and a ``judge`` node type (``cpus`` each, with
    ``labels``) the autoscaler adds from ``min_workers`` up to ``max_workers``
    and releases after ``idle_timeout_minutes``."""

    def __init__(self, labels: dict[str, str], min_workers: int = 0, max_workers: int = 2,
                 cpus: int = 1, idle_timeout_minutes: float = 0.1):
        self.processes = RayProcesses()
        self.port = free_port()
        self.address = f'127.0.0.1:{self.port}'
        self.config = {
            'cluster_name': 'sio-fake', 'max_workers': max_workers, 'upscaling_speed': 1.0,
            'idle_timeout_minutes': idle_timeout_minutes,
            'provider': {'type': 'fake_multinode', 'use_node_id_as_ip': True,
                         'disable_node_updaters': True, 'disable_launch_config_check': True,
                         'gcs_address': self.address},
            'head_node_type': HEAD_TYPE,
            'available_node_types': {
                HEAD_TYPE: {'resources': {'CPU': 0}, 'node_config': {}, 'max_workers': 0},
                'judge': {'resources': {'CPU': cpus}, 'labels': dict(labels), 'node_config': {},
                          'min_workers': min_workers, 'max_workers': max_workers}},
            'auth': {}, 'docker': {}, 'initialization_commands': [], 'setup_commands': [],
            'head_setup_commands': [], 'worker_setup_commands': [],
            'head_start_ray_commands': [], 'worker_start_ray_commands': [], 'file_mounts': {},
            'cluster_synced_files': [], 'file_mounts_sync_continuously': False,
            'rsync_exclude': [], 'rsync_filter': []}
        self.config_file = Path(self.processes.dir) / 'autoscaling.yaml'
        self.env = {'RAY_FAKE_CLUSTER': '1', 'AUTOSCALER_UPDATE_INTERVAL_S': '1',
                    'RAY_TMPDIR': str(Path(self.processes.dir) / 'ray'),
                    'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0', 'RAY_AUTH_MODE': 'disabled'}

    def start(self) -> 'FakeAutoscalingCluster':
        self.config_file.write_text(yaml.safe_dump(self.config))
        self.processes.run(
            f'{RAY} start --head --port={self.port} --num-cpus=0 '
            f'--autoscaling-config={self.config_file} --dashboard-port={free_port()} '
            f'--ray-client-server-port={free_port()} --dashboard-agent-listen-port={free_port()} '
            f'--disable-usage-stats', self.env)
        # What cluster.yaml's head does: tell the drivers which nodes can be added.
        done = subprocess.run([SIO_RAY, 'node-types', '--address', self.address,
                               str(self.config_file)], capture_output=True, text=True,
                              timeout=300, env={**__import__('os').environ, **self.env})
        assert done.returncode == 0, done.stdout + done.stderr
        return self

    def judges(self) -> list[dict]:
        """The alive worker nodes (this process must be connected to the cluster)."""
        import ray
        return [n for n in ray.nodes() if n['Alive'] and n['Resources'].get('CPU', 0) > 0]

    def wait_for_judges(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while len(self.judges()) != count:
            assert time.monotonic() < deadline, f'not {count} judges within {timeout} s'
            time.sleep(0.5)

    def stop(self) -> None:
        self.processes.stop()
