"""The sio_ray driver API against a real local Ray."""

import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

import sio_ray
from sio.workers.ftclient import FiletrackerClient
from sio.workers.runner import run as run_in_process
from sio_ray import dispatcher
from tests.conftest import processes_with


def test_run_returns_the_same_environ_as_the_in_process_runner(local_ray):
    job = {'job_type': 'ping', 'ping': 'e1', 'job_id': 'ping-1'}
    result = sio_ray.run(job)
    expected = run_in_process(dict(job))
    assert result['worker'] == platform.node()  # the node, as sioworkersd says
    assert result == expected
    assert job == {'job_type': 'ping', 'ping': 'e1', 'job_id': 'ping-1'}  # caller's dict untouched


def test_run_many_keeps_input_order_and_as_completed_yields_all(local_ray):
    jobs = [{'job_type': 'ping', 'ping': i} for i in range(20)]
    assert [r['pong'] for r in sio_ray.run_many(jobs)] == list(range(20))
    assert sorted(r['pong'] for r in sio_ray.as_completed(jobs)) == list(range(20))


def test_as_completed_yields_in_finishing_order(local_ray):
    slow = {'job_type': 'test-sleep', 'sleep': 1.5, 'tag': 'slow'}
    fast = {'job_type': 'ping', 'ping': 'fast'}
    first = next(iter(sio_ray.as_completed([slow, fast])))
    assert first.get('pong') == 'fast'


def test_a_failing_job_comes_back_as_failure_not_a_lost_task(local_ray):
    result = sio_ray.run({'job_type': 'test-raise'})
    assert result['result'] == 'FAILURE' and result['exception'] == 'unexpected trouble'
    assert 'ZeroDivisionError' in result['traceback']


def test_group_with_sioworkersd_semantics(local_ray):
    group = {'oioioi_instance': 'szkopul', 'contest_id': 'c1', 'contest_priority': 10,
             'contest_weight': 1000, 'saved_environ_id': 7, 'workers_jobs.extra_args': {},
             'workers_jobs': {
                 'ok': {'job_type': 'ping', 'ping': 1, 'task_priority': 100},
                 'broken': {'job_type': 'test-raise'},
                 'also-ok': {'job_type': 'ping', 'ping': 2}}}
    finished = sio_ray.run_group(json.dumps(group))  # OIOIOI sends JSON text
    assert re.fullmatch(r'GROUP_urn:uuid:[0-9a-f-]{36}', finished['group_id'])
    assert finished['saved_environ_id'] == 7 and finished['workers_jobs.extra_args'] == {}
    results = finished['workers_jobs.results']
    assert set(results) == {'ok', 'also-ok'}  # as sioworkersd: the failed job only in 'error'
    assert results['ok']['pong'] == 1 and results['also-ok']['pong'] == 2
    task_ids = set()
    for name, result in results.items():
        assert result['group_id'] == finished['group_id']
        assert result['contest_uid'] == ['szkopul', 'c1']
        assert (result['contest_priority'], result['contest_weight']) == (10, 1000)
        assert result['worker'] == platform.node() and result['result'] == 'SUCCESS'
        assert result['task_id'] == finished['workers_jobs'][name]['task_id']
        task_ids.add(result['task_id'])
    assert len(task_ids) == 2 and all(t.startswith('urn:uuid:') for t in task_ids)
    assert finished['workers_jobs']['broken']['error']['message'] == 'unexpected trouble'
    assert finished['error']['message'].startswith('Some tasks in a group failed.\n\nbroken: ')
    assert 'ZeroDivisionError' in finished['error']['traceback']
    assert group['workers_jobs']['ok'] == {'job_type': 'ping', 'ping': 1, 'task_priority': 100}


def test_an_empty_group_comes_back_at_once(local_ray):
    finished = sio_ray.run_group({'workers_jobs': {}, 'saved_environ_id': 3})
    assert finished['workers_jobs.results'] == {} and 'error' not in finished
    assert finished['saved_environ_id'] == 3


def test_a_group_asking_too_much_memory_is_refused_before_anything_runs(local_ray):
    group = {'workers_jobs': {
        'small': {'job_type': 'ping', 'ping': 1, 'job_id': 'never-run-small'},
        'huge': {'job_type': 'exec', 'exec_mem_limit': 3 * 1024 * 1024, 'job_id': 'never-run'}}}
    finished = sio_ray.run_group(group)
    assert finished['error']['message'] == \
        'One of the tasks requires 3072 MiB of RAM, exceeding the limit of 2048 MiB'
    assert 'workers_jobs.results' not in finished
    from ray.util.state import list_tasks
    time.sleep(2)  # task events reach the GCS asynchronously
    names = {t.name for t in list_tasks(limit=10000, raise_on_missing_output=False)}
    assert not any('never-run' in name for name in names)
    with pytest.raises(ValueError, match=r"group\['workers_jobs'\]\['bad'\]: environ\['ping'\]"):
        sio_ray.run_group({'workers_jobs': {'good': {'job_type': 'ping', 'ping': 1},
                                            'bad': {'job_type': 'ping', 'ping': float('nan')}}})
    with pytest.raises(ValueError, match=r"group\['workers_jobs'\]\['x'\]: str is not an environ"):
        sio_ray.run_group({'workers_jobs': {'x': 'ping'}})
    with pytest.raises(ValueError, match='group: invalid JSON'):
        sio_ray.run_group('{"workers_jobs": ')


def test_bad_environs_are_rejected_before_anything_is_queued(local_ray):
    jobs = [{'job_type': 'ping', 'ping': 1, 'job_id': 'must-not-run'},
            {'job_type': 'ping', 'ping': b'bytes'}]
    with pytest.raises(ValueError, match=r"environs\[1\]: environ\['ping'\]: bytes is not JSON"):
        sio_ray.run_many(jobs)
    with pytest.raises(ValueError, match=r"environ\['exec_mem_limit'\]: '64M'"):
        sio_ray.submit({'job_type': 'exec', 'exec_mem_limit': '64M'})
    with pytest.raises(ValueError, match="workers_jobs"):
        sio_ray.run_group({'workers_jobs': [{'job_type': 'ping', 'job_id': 'must-not-run'}]})
    from ray.util.state import list_tasks
    time.sleep(2)  # task events reach the GCS asynchronously
    assert list_tasks(filters=[('name', '=', 'sio:ping:must-not-run')],
                      raise_on_missing_output=False) == []


def test_jobs_are_named_for_the_dashboard(local_ray):
    sio_ray.run({'job_type': 'ping', 'ping': 0, 'job_id': 'named-job-42'})
    from ray.util.state import list_tasks
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = list_tasks(filters=[('name', '=', 'sio:ping:named-job-42')],
                           raise_on_missing_output=False)
        if tasks and tasks[0].state == 'FINISHED':
            break
        time.sleep(0.5)
    assert tasks and tasks[0].state == 'FINISHED'


def test_isolated_jobs_run_on_the_sandbox_node(local_ray):
    # This node is tagged sio-sandbox=true by a real probe, so an isolated job is feasible.
    result = sio_ray.run({'job_type': 'test-echo', 'echo': 1})  # the plugin declares it isolated
    assert result['result'] == 'SUCCESS' and result['echoed'] == 1
    node = ray.nodes()[0]
    assert node['Labels']['sio-sandbox'] == 'true'


def test_jobs_run_concurrently_from_threads(local_ray):
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        sio_ray.run({'job_type': 'ping', 'ping': i}))) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r['pong'] for r in results) == list(range(5))


def test_a_high_priority_job_overtakes_a_long_low_priority_batch(local_ray):
    low = [{'job_type': 'test-sleep', 'sleep': 0.2, 'contest_priority': 0, 'job_id': f'low-{i}'}
           for i in range(60)]
    results = {}
    background = threading.Thread(target=lambda: results.update(low=sio_ray.run_many(low)))
    background.start()
    time.sleep(0.5)
    urgent = sio_ray.run({'job_type': 'test-sleep', 'sleep': 0, 'contest_priority': 100})
    background.join()
    finished_before = sum(r['ended'] < urgent['ended'] for r in results['low'])
    # 60 jobs x 0.2 s on 2 CPUs take 6 s; the urgent one waits for at most one window (8 jobs)
    # beyond what had started when it came.
    assert finished_before <= 20, finished_before


def test_a_restarted_driver_does_not_rerun_finished_jobs(local_ray, tmp_path):
    jobs = [{'job_type': 'test-sleep', 'sleep': 0, 'job_id': f'journaled-{i}'} for i in range(5)]
    first = sio_ray.run_many(jobs, journal=sio_ray.Journal(tmp_path, 'batch-1'))
    # A new driver process would open the same journal: the recorded results come back
    # as they were (same 'started' stamps), nothing runs again.
    again = sio_ray.run_many(jobs, journal=sio_ray.Journal(tmp_path, 'batch-1'))
    assert again == first
    # A changed job is not served from the journal.
    changed = [dict(jobs[0], sleep=0.01)] + jobs[1:]
    third = sio_ray.run_many(changed, journal=sio_ray.Journal(tmp_path, 'batch-1'))
    assert third[0]['started'] != first[0]['started'] and third[1:] == first[1:]


def test_a_journal_survives_a_record_cut_short(local_ray, tmp_path):
    journal = sio_ray.Journal(tmp_path, 'cut')
    sio_ray.run_many([{'job_type': 'ping', 'ping': 1}], journal=journal)
    journal.close()
    with open(tmp_path / 'cut.journal', 'ab') as f:
        f.write(b'\x82\xa3key')  # a crash in the middle of the next record
    assert len(sio_ray.Journal(tmp_path, 'cut')) == 1
    with pytest.raises(ValueError, match='batch id'):
        sio_ray.Journal(tmp_path, '../escape')


def test_metrics_count_jobs_by_type_and_result(local_ray):
    import urllib.request
    sio_ray.run_many([{'job_type': 'ping', 'ping': i} for i in range(3)] +
                     [{'job_type': 'test-raise'}])
    port = ray.nodes()[0]['MetricsExportPort']
    pattern = re.compile(r'^ray_sio_jobs(?:_total)?\{[^}]*job_type="(\w[\w-]*)"[^}]*\} ([0-9.e+]+)',
                         re.M)
    deadline = time.monotonic() + 60
    counts = {}
    while time.monotonic() < deadline:
        text = urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10).read().decode()
        counts = {}
        for job_type, value in pattern.findall(text):
            counts[job_type] = counts.get(job_type, 0) + float(value)
        if counts.get('ping', 0) >= 3 and counts.get('test-raise', 0) >= 1:
            break
        time.sleep(1)
    assert counts.get('ping', 0) >= 3 and counts.get('test-raise', 0) >= 1, counts
    assert 'ray_sio_job_run_seconds' in text and 'ray_sio_queue_wait_seconds' in text


def test_cancelling_a_batch_stops_its_running_sandboxes(local_ray, programs, tmp_path):
    import uuid
    marker = f'cancel-me-{uuid.uuid4().hex}'
    (tmp_path / 'in').write_text('')
    running = {'job_type': 'exec', 'use_filetracker': False, 'exe_file': str(programs['busy_loop']),
               'in_file': str(tmp_path / 'in'), 'exec_time_limit': 60000,
               'extra_execution_args': [marker]}
    queued = [{'job_type': 'test-sleep', 'sleep': 30, 'contest_priority': -1} for _ in range(20)]
    futures = sio_ray.submit_many([running] + queued)
    deadline = time.monotonic() + 60
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker), 'the sandboxed program never started'
    started = time.monotonic()
    sio_ray.cancel(futures)
    results = [f.result(timeout=60) for f in futures]
    assert all(r['result'] == 'FAILURE' and 'cancelled' in r['exception'] for r in results), \
        [(r['job_type'], r['result'], r.get('exception', '')[:80]) for r in results]
    while processes_with(marker) and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert processes_with(marker) == []
    assert time.monotonic() - started < 5


def test_cancelling_an_interactive_job_stops_the_solution_and_the_interactor(
        local_ray, programs, tmp_path):
    (tmp_path / 'in').write_text('')
    job = {'job_type': 'interactive-exec', 'use_filetracker': False,
           'exe_file': str(programs['busy_loop']), 'interactor_file': str(programs['sleep_forever']),
           'in_file': str(tmp_path / 'in'), 'exec_time_limit': 60000,
           'interactor_real_time_limit': 120000}
    [future] = sio_ray.submit_many([job])
    deadline = time.monotonic() + 60
    # bwrap's command line names each box directory.
    while not (processes_with('/solution0\0') and processes_with('/interactor\0')):
        assert time.monotonic() < deadline, 'the boxes never started'
        time.sleep(0.1)
    time.sleep(0.5)
    started = time.monotonic()
    sio_ray.cancel([future])
    result = future.result(timeout=60)
    assert result['result'] == 'FAILURE' and 'cancelled' in result['exception']
    while (processes_with('/solution0\0') or processes_with('/interactor\0')) and \
            time.monotonic() - started < 10:
        time.sleep(0.05)
    assert processes_with('/solution0\0') == [] and processes_with('/interactor\0') == []
    assert time.monotonic() - started < 5


def test_status_shows_queues_by_priority_and_node_caches(local_ray, ft_server, tmp_path):
    (tmp_path / 'in').write_text('status')
    name = FiletrackerClient(ft_server.url, tmp_path / 'origin').put_file('/status/in', tmp_path / 'in')
    checked = sio_ray.run({'job_type': 'ft-check', 'filetracker_url': ft_server.url,
                           'in_file': name, 'out_file': '/status/out'})
    assert checked['in_size'] == 6
    window = dispatcher.dispatcher().window
    jobs = [{'job_type': 'test-sleep', 'sleep': 60, 'contest_priority': 5}] * (window + 2) + \
           [{'job_type': 'test-sleep', 'sleep': 60}] * 30
    futures = sio_ray.submit_many(jobs)
    try:
        deadline = time.monotonic() + 30
        while not any(q['in_flight'] for q in dispatcher.published_queues()):
            assert time.monotonic() < deadline, 'the queue was never published'
            time.sleep(0.1)
        done = subprocess.run(
            [str(Path(sys.executable).with_name('sio-ray')), '--address',
             ray.get_runtime_context().gcs_address, 'status'],
            env={**os.environ, 'RAY_AUTH_MODE': 'disabled'}, capture_output=True, text=True,
            timeout=120)
    finally:
        sio_ray.cancel(futures)
    assert done.returncode == 0, done.stderr
    assert f'{window} in Ray (window {window}), queued: 2 at priority 5, 30 at priority 0' \
        in done.stdout, done.stdout
    assert re.search(r' True +true +\w+ +2/2 ', done.stdout), done.stdout  # both CPUs busy
    assert re.search(r'node cache http://127\.0\.0\.1:\d+ on node \w+: \d+ hits, [1-9]\d* misses',
                     done.stdout), done.stdout
