"""sio_ray.connect() with real Ray processes: a local Ray listens on loopback
only; a cluster with token authentication says why it refuses a driver."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.conftest import (RayProcesses, descendants, free_port, is_loopback,
                                    listening_sockets)

REPO = Path(__file__).resolve().parents[2]


def driver(code: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """A driver process of its own running ``code`` (with ``sio_ray`` imported)."""
    return subprocess.Popen([sys.executable, '-c', 'import sio_ray\n' + code], cwd=REPO,
                            env={**os.environ, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_a_local_ray_listens_on_loopback_only():
    # A driver starts its local Ray, runs jobs (so workers with their own
    # servers exist), reports, and waits on stdin while the test looks.
    proc = driver("import json, ray, sys\n"
                  "sio_ray.connect(num_cpus=1)\n"
                  "assert [r['pong'] for r in sio_ray.run_many([{'job_type': 'ping', 'ping': i}"
                  " for i in range(4)])] == [0, 1, 2, 3]\n"
                  "print(json.dumps({'gcs': ray.get_runtime_context().gcs_address,"
                  " 'nodes': [n['NodeManagerAddress'] for n in ray.nodes()]}), flush=True)\n"
                  "sys.stdin.read()\n"
                  "sio_ray.shutdown()\n", stdin=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        seen = json.loads(line)
        sockets = listening_sockets(set(descendants(proc.pid)) | {proc.pid})
    finally:
        proc.stdin.close()
        proc.wait(120)
    assert seen['gcs'].startswith('127.0.0.1:') and seen['nodes'] == ['127.0.0.1']
    # The GCS, the raylet, the object manager, the agents, the dashboard, workers...
    assert len(sockets) >= 6, sockets
    assert [s for s in sockets if not is_loopback(s[0])] == [], sockets


@pytest.fixture(scope='module')
def token_cluster():
    """A real head started by ``ray start`` with token authentication (its
    token from the environment, its home a temporary directory), on
    loopback and explicit ports; the token."""
    token = 'sio0test0token0' + os.urandom(8).hex()
    ray = RayProcesses()
    port = free_port()
    env = {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN': token, 'HOME': ray.dir,
           'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0'}
    try:
        ray.run(f'{Path(sys.executable).with_name("ray")} start --head --port={port} '
                f'--num-cpus=1 --dashboard-port={free_port()} '
                f'--temp-dir={ray.dir} --disable-usage-stats', env)
        yield f'127.0.0.1:{port}', token, ray.dir
    finally:
        ray.stop()


JOIN = ("import sys\n"
        "try:\n"
        "    sio_ray.connect(sys.argv[1])\n"
        "except ConnectionError as exc:\n"
        "    print('REFUSED', exc)\n"
        "    sys.exit(3)\n"
        "print('PONG', sio_ray.run({'job_type': 'ping', 'ping': 'tok'})['pong'])\n"
        "sio_ray.shutdown()\n")


def join(address: str, env: dict, timeout: float = 120):
    began = time.monotonic()
    done = subprocess.run([sys.executable, '-c', 'import sio_ray\n' + JOIN, address], cwd=REPO,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)
    return done, time.monotonic() - began


def test_a_driver_without_the_token_is_told_so(token_cluster):
    address, _token, home = token_cluster
    done, took = join(address, {'RAY_AUTH_MODE': 'disabled', 'HOME': home})
    assert done.returncode == 3, done.stdout + done.stderr
    assert 'uses token authentication and this driver has no token' in done.stdout
    assert 'RAY_AUTH_MODE=token' in done.stdout and 'RAY_AUTH_TOKEN' in done.stdout
    assert took < 30  # at once, not after Ray's own retries


def test_a_driver_with_another_clusters_token_is_told_so(token_cluster):
    address, _token, home = token_cluster
    done, _ = join(address, {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN': 'not-the-token' * 3,
                             'HOME': home})
    assert done.returncode == 3, done.stdout + done.stderr
    assert 'refused the authentication token of this driver' in done.stdout


def test_a_driver_with_the_token_runs_jobs(token_cluster):
    address, token, home = token_cluster
    done, _ = join(address, {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN': token, 'HOME': home})
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'PONG tok' in done.stdout


def test_nothing_answering_at_an_address_is_said_at_once():
    done, took = join(f'127.0.0.1:{free_port()}', {})
    assert done.returncode == 3, done.stdout + done.stderr
    assert 'no Ray cluster answers at 127.0.0.1:' in done.stdout and took < 40


def test_a_local_ray_whose_agent_port_is_taken_is_told_so():
    # ray.init cannot move the node agent off its port: when another process
    # (here the test; elsewhere another Ray) holds it, the driver still judges
    # and says what it lacks and how to get it.
    from sio_ray.connection import AGENT_PORT
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(('127.0.0.1', AGENT_PORT))
        holder.listen()
    except OSError:
        pass  # already held by someone else: taken all the same
    try:
        done = subprocess.run(
            [sys.executable, '-c', "import sio_ray\nsio_ray.connect(num_cpus=1)\n"
             "print('PONG', sio_ray.run({'job_type': 'ping', 'ping': 'agent'})['pong'])\n"
             "sio_ray.shutdown()\n"], cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        holder.close()
    assert done.returncode == 0 and 'PONG agent' in done.stdout, done.stdout + done.stderr
    assert f'port {AGENT_PORT}, where the node agent of a local Ray listens, is taken' \
        in done.stderr and '--dashboard-agent-listen-port' in done.stderr, done.stderr
