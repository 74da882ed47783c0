"""Ray workers write where the test session says, not in the machine's defaults.

Workers of a module's Ray start before any test's own settings apply (they
inherit the environment of ``ray.init``); the session sets its temporary
directories before that (``hermetic_session`` in ``tests/conftest.py``)."""

import os
import tempfile

import ray


@ray.remote
def _where_a_worker_writes(url: str) -> dict:
    from sio.workers import ft, sandbox
    return {'ft_cache': str(ft.cache_dir_for(url)), 'local_store': str(ft.cache_dir_for(None)),
            'sandboxes': str(sandbox._basedir()), 'temporary files': tempfile.gettempdir(),
            'ray_session': ray._private.worker.global_worker.node.get_session_dir_path()}


def test_ray_workers_keep_node_state_in_the_sessions_temporary_directories(local_ray):
    where = ray.get(_where_a_worker_writes.remote('http://127.0.0.1:9'))
    tmp = os.path.realpath(tempfile.gettempdir())
    for what in ('ft_cache', 'local_store', 'sandboxes'):
        path = os.path.realpath(where[what])
        assert path.startswith(tmp + os.sep), (what, path)  # not in $HOME nor /var/cache
    assert where['ray_session'].startswith(os.environ['RAY_TMPDIR'] + os.sep), where
    # Job directories of a worker killed mid-job stay in the session's, removed at its end.
    assert where['temporary files'] == os.environ['TMPDIR'], where
