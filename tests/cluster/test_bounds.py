"""No job holds a worker forever: a job past its wall-clock bound is stopped on a
real local Ray, comes back once as FAILURE naming the bound, leaves nothing
running and frees its worker; Ray does not run it again."""

import socket
import time
import uuid

import pytest
import ray

import sio_ray
from sio_ray import bounds
from tests.cluster.conftest import attempts_of
from tests.conftest import processes_with, wait_until

#: How long after its bound a job may take to come back: a poll, the grace of
#: an interruption, then the kill of its worker, with room for a busy machine.
SLACK = bounds.POLL_INTERVAL + bounds.FORCE_AFTER + 20


def ended_attempts(task_id: str) -> list:
    """The attempts of Ray task ``task_id`` the State API knows, once the
    first has ended."""
    def ended():
        tasks = attempts_of(task_id)
        return tasks if any(t.state in ('FAILED', 'FINISHED') for t in tasks) else None
    return wait_until(ended, 60, f'task events of {task_id}')


def full_node_runs_at_once():
    """A job needing every CPU of the node starts only when no other job holds one."""
    ref = sio_ray.submit({'job_type': 'ping', 'ping': 'full'}, num_cpus=2)
    return ray.get(ref, timeout=60)['pong'] == 'full'


def test_a_hung_job_fails_at_its_bound_leaves_nothing_and_frees_its_worker(local_ray, tmp_path):
    marker = f'hang-child-{uuid.uuid4().hex}'
    job_id = f'hang-{uuid.uuid4().hex[:8]}'
    starts = tmp_path / 'starts'
    job = {'job_type': 'test-hang', 'job_id': job_id, 'marker': marker,
           'starts_file': str(starts), 'job_real_time_limit': 3000}
    [future] = sio_ray.submit_many([job])
    wait_until(lambda: starts.exists() and starts.read_text(), 60, 'the job never started')
    began = time.monotonic()
    assert processes_with(marker), 'the job started no child'
    result = future.result(timeout=3 + SLACK)
    took = time.monotonic() - began
    assert result['result'] == 'FAILURE'
    assert result['exception'] == ("the job ran past its wall-clock bound of 3 s set by "
                                   "environ['job_real_time_limit'] (3000 ms)")
    # An interruption cannot wake a blocked open(): the worker process was killed.
    assert 'its worker process was killed' in result['traceback']
    assert result['job_id'] == job_id and result['marker'] == marker  # the environ, kept
    assert took >= 3 - bounds.POLL_INTERVAL, took  # not stopped before its bound
    # Ray ends the killed worker's children itself (a loaded machine may take a while).
    wait_until(lambda: not processes_with(marker), 120, 'the job\'s child outlived it')
    assert full_node_runs_at_once()  # its worker (and CPU) is free again
    # Cancelled tasks are never retried: one attempt ran, and only one.
    tasks = ended_attempts(result['ray_task_id'])  # the driver names the task it stopped
    assert [t.attempt_number for t in tasks] == [0] and tasks[0].state == 'FAILED'
    assert len(starts.read_text().split()) == 1


def test_a_real_box_is_killed_when_its_job_passes_the_bound(local_ray, programs, tmp_path):
    marker = f'bound-box-{uuid.uuid4().hex}'
    (tmp_path / 'in').write_text('')
    job = {'job_type': 'exec', 'use_filetracker': False, 'exe_file': str(programs['busy_loop']),
           'in_file': str(tmp_path / 'in'), 'exec_time_limit': 120_000,
           'extra_execution_args': [marker], 'job_real_time_limit': 2000}
    [future] = sio_ray.submit_many([job])
    wait_until(lambda: processes_with(marker), 60, 'the boxed program never started')
    result = future.result(timeout=2 + SLACK)
    assert result['result'] == 'FAILURE'
    assert result['exception'].startswith('the job ran past its wall-clock bound of 2 s')
    # The box's wait loop stops at an interruption: no worker had to die.
    assert 'it was interrupted and its boxes killed' in result['traceback']
    # The box dies with the interruption, long before its own limits (240 s of wall time).
    wait_until(lambda: not processes_with(marker), 60, 'the boxed program outlived its job')


@pytest.fixture
def silent_central():
    """A filetracker URL whose server takes connections and never answers."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(64)
    yield f'http://127.0.0.1:{server.getsockname()[1]}'
    server.close()


def test_a_bound_derived_from_the_jobs_limits(local_ray, silent_central, monkeypatch):
    # The central filetracker never answers: the download of the program hangs
    # (for the client's 30 s read timeout, at least).  The bound: the
    # program's wall limit (2 × 500 ms + 1 s) and a margin, here of 1 s.
    monkeypatch.setenv(bounds.MARGIN_VARIABLE, '1')
    job = {'job_type': 'exec', 'filetracker_url': silent_central, 'exe_file': '/silent/exe',
           'in_file': '/silent/in', 'exec_time_limit': 500,
           'exec_remeasure_runs': 0}  # one run: borderline runs measured again add theirs
    [future] = sio_ray.submit_many([job])
    result = future.result(timeout=3 + 60 + SLACK)  # + the time to start a node cache
    assert result['result'] == 'FAILURE'
    assert result['exception'] == (
        'the job ran past its wall-clock bound of 3 s derived from its limits: '
        'program 2 s (2×exec_time_limit 500 ms + 1 s) + margin 1 s')


def test_the_cluster_default_bounds_jobs_whose_limits_give_none(local_ray, monkeypatch):
    monkeypatch.setenv(bounds.DEFAULT_VARIABLE, '2')
    [future] = sio_ray.submit_many([{'job_type': 'test-sleep', 'sleep': 600}])
    result = future.result(timeout=2 + SLACK)
    assert result['result'] == 'FAILURE'
    assert result['exception'] == ("the job ran past its wall-clock bound of 2 s by default: "
                                   "the limits of a 'test-sleep' job give none")
    assert 'interrupted' in result['traceback']
    monkeypatch.setenv(bounds.DEFAULT_VARIABLE, 'soon')
    with pytest.raises(ValueError, match=r"\$SIO_RAY_JOB_WALL_LIMIT: 'soon'"):
        sio_ray.run({'job_type': 'test-sleep'})


def test_a_job_within_its_bound_is_untouched_and_the_queue_waits_do_not_count(local_ray):
    # Six 1.5 s jobs on two CPUs: the last ones wait ~3 s for a worker, which
    # their 4 s bound does not count (counted, they would pass it: 3 + 1.5 s);
    # 2.5 s of room for a loaded machine to start and end each job.
    jobs = [{'job_type': 'test-sleep', 'sleep': 1.5, 'job_real_time_limit': 4000}
            for _ in range(6)]
    results = sio_ray.run_many(jobs)
    assert [r['result'] for r in results] == ['SUCCESS'] * 6
    assert max(r['ended'] for r in results) - min(r['started'] for r in results) > 4


def test_submit_holds_its_task_to_the_bound_too(local_ray):
    ref = sio_ray.submit({'job_type': 'test-sleep', 'sleep': 600, 'job_real_time_limit': 1500})
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(ref, timeout=1.5 + SLACK)
    assert full_node_runs_at_once()


def test_a_bad_bound_is_refused_before_anything_is_queued(local_ray):
    with pytest.raises(ValueError, match=r"environs\[1\]: environ\['job_real_time_limit'\]: "
                                         r"'1 minute' is not a positive number of ms"):
        sio_ray.run_many([{'job_type': 'ping', 'ping': 1},
                          {'job_type': 'ping', 'job_real_time_limit': '1 minute'}])


def test_cancelling_a_hung_job_kills_its_worker_when_an_interruption_cannot_stop_it(
        local_ray, tmp_path):
    marker = f'cancel-hang-{uuid.uuid4().hex}'
    starts = tmp_path / 'starts'
    [future] = sio_ray.submit_many([{'job_type': 'test-hang', 'marker': marker,
                                     'starts_file': str(starts)}])  # its bound: an hour
    wait_until(lambda: starts.exists() and starts.read_text(), 60, 'the job never started')
    sio_ray.cancel([future])
    result = future.result(timeout=SLACK)
    assert result['result'] == 'FAILURE' and result['exception'] == 'the job was cancelled'
    assert not future.ran  # a resumed batch runs it again
    # Ray ends the killed worker's children itself (a loaded machine may take a while).
    wait_until(lambda: not processes_with(marker), 120, 'the job\'s child outlived it')
    assert full_node_runs_at_once()
