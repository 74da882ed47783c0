"""Language toolchains as node tags: probed for real, and jobs placed by them
on a real multi-node Ray (a Java job only where Java works; a job no node can
serve refused at once naming the runtime; a fetchable toolchain sandbox
serves where the node's own toolchain is missing)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import tags
from tests.cluster.conftest import head_args

SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))
JAVA = 'public class Hello { public static void main(String[] a) { System.out.println(1); } }\n'


def test_node_args_say_which_toolchains_really_work():
    everything = subprocess.run([SIO_RAY, 'node-args'], capture_output=True, text=True,
                                timeout=120).stdout
    for runtime in ('java', 'fpc', 'python', 'gcc', 'gxx'):
        assert f'sio-{runtime}=true' in everything, everything  # this machine has them all
    # A node whose PATH has none of them (only the project's Python).
    bare = subprocess.run([SIO_RAY, 'node-args'], capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'PATH': str(Path(sys.executable).parent)}).stdout
    for runtime in ('java', 'fpc', 'gcc', 'gxx'):
        assert f'sio-{runtime}=false' in bare, bare
    assert 'sio-python=true' in bare


@pytest.fixture(scope='module')
def cluster():
    """A head that runs nothing; a judge with Java and one without; neither
    has Free Pascal nor Python."""
    real = tags.node_labels()
    common = {**real, 'sio-fpc': 'false', 'sio-python': 'false'}
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    java = cluster.add_node(num_cpus=1, labels={**common, 'sio-java': 'true'})
    other = cluster.add_node(num_cpus=1, labels={**common, 'sio-java': 'false'})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield java.node_id, other.node_id
    sio_ray.shutdown()
    cluster.shutdown()


def compile_job(tmp_path: Path, compiler: str, source: str, text: str, i: int, **extra) -> dict:
    (tmp_path / source).write_text(text)
    return {'job_type': 'compile', 'compiler': compiler, 'use_filetracker': False,
            'source_file': str(tmp_path / source), 'out_file': str(tmp_path / f'out{i}'),
            'prefilters': ['test-node-id'], **extra}


def test_java_jobs_go_only_where_java_works(cluster, tmp_path):
    java_node, other = cluster
    jobs = [compile_job(tmp_path, 'system-java', 'Hello.java', JAVA, i) for i in range(3)]
    jobs += [compile_job(tmp_path, 'system-gcc', 'a.c', 'int main(void){return 0;}\n', 3 + i)
             for i in range(3)]
    results = sio_ray.run_many(jobs)
    assert [r['result_code'] for r in results] == ['OK'] * 6, \
        [(r.get('exception'), r.get('compiler_output')) for r in results]
    assert {r['ray_node_id'] for r in results[:3]} == {java_node}
    assert {r['ray_node_id'] for r in results[3:]} <= {java_node, other}


def test_a_job_no_node_can_serve_fails_at_once_naming_the_runtime(cluster, tmp_path):
    results = sio_ray.run_many([
        compile_job(tmp_path, 'system-python', 'a.py', 'print(1)\n', 0),
        compile_job(tmp_path, 'system-fpc', 'a.pas', 'begin end.\n', 1)])
    assert [r['result'] for r in results] == ['FAILURE', 'FAILURE']
    assert 'none with room for the job has the python runtime (sio-python)' in \
        results[0]['exception'], results[0]['exception']
    assert 'the fpc runtime (sio-fpc)' in results[1]['exception']


def test_a_fetchable_toolchain_sandbox_counts_for_the_missing_runtime(cluster, tmp_path):
    from sio.demo.central import CentralServer
    from sio.workers.sandbox import publish_sandbox
    (tmp_path / 'toolchain' / 'usr' / 'bin').mkdir(parents=True)
    # A filetracker of its own: the empty toolchain published here must not
    # serve the session's other Pascal compiles.
    with CentralServer.start(tmp_path / 'ft') as server:
        publish_sandbox(tmp_path / 'toolchain', 'compiler-fpc.2_6_2', url=server.url)
        # No node has Free Pascal, but the compiler's own toolchain can be
        # fetched: the job is placed (what it makes of this empty toolchain is
        # its business).
        [result] = sio_ray.run_many([compile_job(
            tmp_path, 'fpc2_6_2', 'a.pas', 'begin end.\n', 0, filetracker_url=server.url)])
    assert 'no node can run' not in result.get('exception', ''), result.get('exception')
    assert result.get('ray_node_id') in cluster
