"""cluster.yaml's start commands, run as `ray up` runs them: a real head and a
real worker come up with their tags and serve jobs, the worker's node cache
runs as its service, the head's gateway answers.

The commands run verbatim through ``bash -c``, with only what a shared
machine needs changed: the GCS port (6379) and the other ports of each node
are explicit, ``$HOME`` and Ray's temporary directory are the test's own (the
project is found at ``~/sio-ray``, as ``file_mounts`` puts it), and the
``ray stop`` lines, which would stop every Ray on the machine, are left out.
"""

import json
import os
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

import pytest
import yaml

from sio_ray import tags
from tests.cluster.conftest import RayProcesses, free_port

ROOT = Path(__file__).resolve().parents[2]
RAY_STOP = '~/sio-ray/.venv/bin/ray stop'
#: What `ray start --head` gets without autoscaling: Ray's own monitor-only config.
READONLY_CONFIG = {'cluster_name': 'sio-ray-test', 'max_workers': 0,
                   'provider': {'type': 'readonly', 'use_node_id_as_ip': True,
                                'disable_node_updaters': True,
                                'disable_launch_config_check': True},
                   'available_node_types': {'ray.head.default': {
                       'resources': {}, 'node_config': {}, 'max_workers': 0}},
                   'head_node_type': 'ray.head.default', 'upscaling_speed': 1.0}


def explicit_ports(command: str, head: bool) -> str:
    """``command`` with the GCS port and every other port of a `ray start` explicit."""
    gcs = explicit_ports.gcs
    command = command.replace('6379', str(gcs))
    if ' ray start ' in command or '/ray start ' in command:
        ports = ['--node-manager-port', '--object-manager-port', '--metrics-export-port',
                 '--dashboard-agent-listen-port', '--dashboard-agent-grpc-port',
                 '--runtime-env-agent-port']
        if head:
            ports += ['--dashboard-port', '--ray-client-server-port']
        command += ''.join(f' {flag}={free_port()}' for flag in ports)
    return command


def run_commands(ray: RayProcesses, commands: list[str], env: dict, head: bool) -> None:
    for command in commands:
        if command.strip() == RAY_STOP:
            continue  # on a shared machine: it would stop every Ray of the machine
        ray.run(explicit_ports(command, head), env)


@pytest.fixture(scope='module')
def cluster(ft_server):
    config = yaml.safe_load((ROOT / 'cluster.yaml').read_text())
    ray = RayProcesses()
    home = Path(ray.dir)
    (home / 'sio-ray').symlink_to(ROOT)
    token = 'sio0cluster0' + os.urandom(10).hex()
    (home / '.ray').mkdir()
    (home / '.ray' / 'auth_token').write_text(token)
    (home / 'ray_bootstrap_config.yaml').write_text(yaml.safe_dump(READONLY_CONFIG))
    explicit_ports.gcs = free_port()
    gateway_port = free_port()
    worker_cache = home / 'worker-ft-cache'
    env = {'HOME': str(home), 'RAY_TMPDIR': str(home / 'ray'), 'RAY_HEAD_IP': '127.0.0.1',
           'FILETRACKER_URL': ft_server.url, 'SIO_FT_CACHE_DIR': str(home / 'head-ft-cache')}
    head = [c.replace('--replace', f'--replace --port={gateway_port}')
            for c in config['head_start_ray_commands']]
    try:
        run_commands(ray, head, env, head=True)
        run_commands(ray, config['worker_start_ray_commands'],
                     {**env, 'SIO_FT_CACHE_DIR': str(worker_cache)}, head=False)
        yield {'address': f'127.0.0.1:{explicit_ports.gcs}', 'home': home, 'token': token,
               'gateway': gateway_port, 'worker_cache': worker_cache, 'url': ft_server.url}
    finally:
        ray.stop()


DRIVER = r'''
import json, sys
import ray
import sio_ray
from ray.util.state import list_actors
sio_ray.connect(sys.argv[1])
nodes = [{'id': n['NodeID'], 'alive': n['Alive'], 'labels': n['Labels'],
          'resources': n['Resources']} for n in ray.nodes()]
jobs = [{'job_type': 'ping', 'ping': 1, 'prefilters': ['test-node-id']},
        {'job_type': 'test-echo', 'echo': 2, 'prefilters': ['test-node-id']}]
jobs += [{'job_type': 'ft-check', 'filetracker_url': sys.argv[2], 'in_file': sys.argv[3],
          'out_file': f'/cluster-start/out{i}', 'prefilters': ['test-node-id']} for i in range(2)]
results = sio_ray.run_many(jobs)
actors = [a.class_name for a in list_actors(address=ray.get_runtime_context().gcs_address,
                                           raise_on_missing_output=False)]
print('SIO-TEST ' + json.dumps({'nodes': nodes, 'results': results, 'actors': actors}))
sio_ray.shutdown()
'''


def test_the_start_commands_bring_up_a_tagged_head_and_judge(cluster, tmp_path):
    from sio.workers.filetracker.client import FiletrackerClient
    (tmp_path / 'in').write_bytes(b'x' * 1000)
    in_file = FiletrackerClient(cluster['url'], tmp_path / 'origin').put_file(
        '/cluster-start/in', tmp_path / 'in')
    # The worker's node cache runs as its own service (before any job).
    done = subprocess.run([sys.executable, '-c', 'import sys; from sio.workers import ft; '
                           'print(ft.node_cache_url(sys.argv[1]))', cluster['url']],
                          env={**os.environ, 'SIO_FT_CACHE_DIR': str(cluster['worker_cache'])},
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith('http://127.0.0.1:'), done.stdout + done.stderr
    driver = subprocess.run([sys.executable, '-c', DRIVER, cluster['address'], cluster['url'],
                             in_file], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, 'RAY_AUTH_MODE': 'token',
                                 'HOME': str(cluster['home'])})
    lines = [line for line in driver.stdout.splitlines() if line.startswith('SIO-TEST ')]
    assert lines, driver.stdout + driver.stderr
    seen = json.loads(lines[0].removeprefix('SIO-TEST '))
    alive = [n for n in seen['nodes'] if n['alive']]
    assert len(alive) == 2, seen['nodes']
    head = next(n for n in alive if n['resources'].get('CPU', 0) == 0)
    judge = next(n for n in alive if n is not head)
    # The judge's tags: what `sio-ray node-args` probed, as its labels.
    for key, value in tags.node_labels().items():
        assert judge['labels'].get(key) == value, judge['labels']
    results = seen['results']
    assert [r['result'] for r in results] == ['SUCCESS'] * 4, [r.get('exception') for r in results]
    assert {r['ray_node_id'] for r in results} == {judge['id']}
    assert results[1]['echoed'] == 2 and results[2]['in_size'] == 1000
    assert 'NodeCache' not in seen['actors']  # the service served; no actor was needed
    # The head's gateway answers OIOIOI's calls, about this cluster.
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{cluster['gateway']}", allow_none=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            workers = proxy.get_workers()
            break
        except OSError:
            assert time.monotonic() < deadline, (cluster['home'] / 'sio-ray-gateway.log').read_text()
            time.sleep(0.5)
    assert any(judge['id'][:8] in w['name'] for w in workers), workers
