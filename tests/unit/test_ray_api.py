"""sio_ray uses Ray's public APIs, in the Ray versions pyproject.toml declares."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(r'ray\._private|ray\.experimental|_internal_kv|'
                     r'get_current_task_attempt_number|available_resources_per_node|'
                     r'get_dashboard_url')
#: The one private name left, and why: Ray reads its loopback switch
#: (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER) once, when imported (sio_ray.connection).
ALLOWED = {('sio_ray/connection.py', 'from ray._private import ray_constants')}


def test_sio_ray_uses_no_private_ray_api():
    found = set()
    for path in sorted((REPO / 'sio_ray').rglob('*.py')):
        for line in path.read_text().splitlines():
            if PRIVATE.search(line):
                found.add((str(path.relative_to(REPO)), line.split('#')[0].strip()))
    assert found == ALLOWED


def test_the_installed_ray_is_in_the_declared_range():
    project = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']
    [ray] = [d for d in project['dependencies'] if d.startswith('ray[')]
    low, high = re.fullmatch(r'ray\[default\]>=([\d.]+),<([\d.]+)', ray).groups()

    def key(v):
        return tuple(int(p) for p in v.split('.'))
    assert key(low) <= key(version('ray')) < key(high), (ray, version('ray'))
