"""The sio_ray driver API against a real local Ray."""

import json
import os
import platform
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import ray

import sio_ray
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.runner import run as run_in_process
from sio_ray import bounds, registry
from tests.cluster.conftest import (alive, attempts_of, descendants, no_task_submitted,
                                    wait_until)
from tests.conftest import processes_with

REPO = Path(__file__).resolve().parents[2]
#: How long a cancelled job may take to stop: a poll, the grace of an
#: interruption, the kill of its worker, with room for a busy machine.  The
#: jobs cancelled here would run for minutes by their own limits.
STOP_WITHIN = bounds.POLL_INTERVAL + bounds.FORCE_AFTER + 10


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class Driver:
    """A driver script in a process of its own (tests/cluster/driver_script.py),
    joining this test's Ray through ``$RAY_ADDRESS``."""

    def __init__(self, spec: dict, log: Path):
        env = {**os.environ, 'RAY_ADDRESS': ray.get_runtime_context().gcs_address,
               'RAY_AUTH_MODE': 'disabled'}
        self.log = log
        with open(log, 'ab') as stderr:
            self.process = subprocess.Popen(
                [sys.executable, '-m', 'tests.cluster.driver_script', json.dumps(spec)],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self._events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith('SIO-TEST '):
                self._events.put(json.loads(line.removeprefix('SIO-TEST ')))
        self._events.put(None)

    def until(self, event: str, timeout: float = 120) -> list[dict]:
        """The events up to and including the first ``event``."""
        seen = []
        while True:
            try:
                item = self._events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f'no {event!r} from the driver within {timeout} s; '
                                     f'seen {seen}; log: {self.log.read_text()[-3000:]}')
            assert item is not None, f'the driver ended before {event!r}: ' \
                                     f'{self.log.read_text()[-3000:]}'
            seen.append(item)
            if item['event'] == event:
                return seen

    def results(self, events: list[dict]) -> dict[int, dict]:
        return {e['index']: e['result'] for e in events if e['event'] == 'result'}

    def finish(self, timeout: float = 120) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)


def ran_like_sio_batch(result: dict, job: dict) -> bool:
    """``result`` is what the in-process runner gives for ``job``, plus where
    on Ray it ran (``ray_node_id``, ``ray_task_id``)."""
    expected = run_in_process(dict(job))
    here = {k: v for k, v in result.items() if k not in ('ray_node_id', 'ray_task_id')}
    return here == expected and len(result['ray_node_id']) == 56 and \
        len(result['ray_task_id']) > 0


def test_run_returns_the_same_environ_as_the_in_process_runner(local_ray):
    job = {'job_type': 'ping', 'ping': 'e1', 'job_id': 'ping-1'}
    result = sio_ray.run(job)
    assert result['worker'] == platform.node()  # the node, as sioworkersd says
    assert result['ray_node_id'] == ray.nodes()[0]['NodeID']  # and as Ray says
    assert ran_like_sio_batch(result, job)
    assert job == {'job_type': 'ping', 'ping': 'e1', 'job_id': 'ping-1'}  # caller's dict untouched


def test_run_many_keeps_input_order_and_as_completed_yields_all(local_ray):
    jobs = [{'job_type': 'ping', 'ping': i} for i in range(20)]
    assert [r['pong'] for r in sio_ray.run_many(jobs)] == list(range(20))
    assert sorted(r['pong'] for r in sio_ray.as_completed(jobs)) == list(range(20))


def test_as_completed_yields_in_finishing_order(local_ray, tmp_path):
    gate = tmp_path / 'gate'
    # The slow job cannot end before the gate opens, which happens only once
    # the fast one came out (or after 60 s, failing the test).
    slow = {'job_type': 'test-wait', 'wait_for': [str(gate)], 'wait_timeout': 60}
    fast = {'job_type': 'ping', 'ping': 'fast'}
    results = sio_ray.as_completed([slow, fast])
    first = next(results)
    gate.touch()
    second = next(results)
    assert first.get('pong') == 'fast'
    assert second['job_type'] == 'test-wait' and second['result'] == 'SUCCESS'


def test_submit_hands_a_job_to_ray_and_the_reference_resolves_to_its_result(local_ray):
    job = {'job_type': 'ping', 'ping': 'submitted', 'job_id': f'submit-{uuid.uuid4().hex[:8]}'}
    ref = sio_ray.submit(job)
    assert isinstance(ref, ray.ObjectRef)
    result = ray.get(ref, timeout=60)
    assert ran_like_sio_batch(result, job)
    assert result['ray_task_id'] == ref.task_id().hex()
    assert [t.state for t in wait_until(
        lambda: [t for t in attempts_of(result['ray_task_id']) if t.state == 'FINISHED'],
        60, 'the task never showed')] == ['FINISHED']
    # A job no node can run comes back as FAILURE through a reference too.
    refused = ray.get(sio_ray.submit({'job_type': 'ping', 'ping_mem_limit': 1 << 40}))
    assert refused['result'] == 'FAILURE' and 'no node has the resources' in refused['exception']


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
    with no_task_submitted('ping', 'exec'):
        finished = sio_ray.run_group(group)
    assert finished['error']['message'] == \
        'One of the tasks requires 3072 MiB of RAM, exceeding the limit of 2048 MiB'
    assert 'workers_jobs.results' not in finished
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
    with no_task_submitted('ping', 'exec', 'no-such-job'):
        with pytest.raises(ValueError,
                           match=r"environs\[1\]: environ\['ping'\]: bytes is not JSON"):
            sio_ray.run_many(jobs)
        with pytest.raises(ValueError, match=r"environ\['exec_mem_limit'\]: '64M'"):
            sio_ray.submit({'job_type': 'exec', 'exec_mem_limit': '64M'})
        with pytest.raises(ValueError, match="workers_jobs"):
            sio_ray.run_group({'workers_jobs': [{'job_type': 'ping', 'job_id': 'must-not-run'}]})
        # A job type no installed package provides: refused here, not on a worker.
        with pytest.raises(ValueError, match=r"environs\[1\]: environ\['job_type'\]: unknown "
                                             r"job type 'no-such-job'; installed: .*ping"):
            sio_ray.run_many([{'job_type': 'ping'}, {'job_type': 'no-such-job'}])


def test_isolated_jobs_run_on_the_sandbox_node(local_ray):
    # This node is tagged sio-sandbox=true by a real probe, so an isolated job is feasible.
    result = sio_ray.run({'job_type': 'test-echo', 'echo': 1})  # the plugin declares it isolated
    assert result['result'] == 'SUCCESS' and result['echoed'] == 1
    node = ray.nodes()[0]
    assert node['Labels']['sio-sandbox'] == 'true'


def test_jobs_run_concurrently_from_threads(local_ray, tmp_path):
    # Two jobs from two threads meet: each arrives, then waits for the other;
    # only jobs that run at the same time both succeed.
    meet = [{'job_type': 'test-wait', 'arrive': str(tmp_path / f'arrived-{i}'),
             'wait_for': [str(tmp_path / 'arrived-0'), str(tmp_path / 'arrived-1')],
             'wait_timeout': 60} for i in range(2)]
    jobs = meet + [{'job_type': 'ping', 'ping': i} for i in range(3)]
    results = [None] * len(jobs)

    def run(i):
        results[i] = sio_ray.run(jobs[i])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r['result'] for r in results] == ['SUCCESS'] * 5, [r.get('exception') for r in results]
    a, b = results[:2]
    assert overlap((a['started'], a['ended']), (b['started'], b['ended']))
    assert [r['pong'] for r in results[2:]] == [0, 1, 2]


def test_a_cpu_exec_job_overlaps_nothing_on_its_node(local_ray, programs, tmp_path):
    (tmp_path / 'in').write_text('')
    stamped = {'prefilters': ['test-stamp-start', 'test-node-id'],
               'postfilters': ['test-stamp-end']}
    stream = [{'job_type': 'test-sleep', 'sleep': 0.3, **stamped} for _ in range(24)]
    # A real cpu-exec job: the program in its box until its 1 s time limit.
    cpu_exec = {'job_type': 'cpu-exec', 'use_filetracker': False,
                'exe_file': str(programs['busy_loop']), 'in_file': str(tmp_path / 'in'),
                'exec_time_limit': 1000, **stamped}
    results = sio_ray.run_many(stream[:8] + [cpu_exec] + stream[8:])
    alone = results[8]
    assert alone['result'] == 'SUCCESS' and alone['result_code'] == 'TLE', alone
    others = results[:8] + results[9:]
    def span(r):
        return r['stamp_started'], r['stamp_ended']
    assert [r for r in others if r['ray_node_id'] == alone['ray_node_id']
            and overlap(span(r), span(alone))] == []
    # Not vacuous: the other jobs do run side by side on the node's two CPUs ...
    assert any(overlap(span(a), span(b)) for i, a in enumerate(others) for b in others[i + 1:])
    # ... and the exclusive one was not starved by those behind it.
    assert alone['stamp_ended'] < max(r['stamp_ended'] for r in results[9:])


def test_a_high_priority_job_overtakes_a_long_low_priority_batch(local_ray):
    low = [{'job_type': 'test-sleep', 'sleep': 0.2, 'contest_priority': 0, 'job_id': f'low-{i}'}
           for i in range(60)]
    futures = sio_ray.submit_many(low)
    wait_until(lambda: any(f.done() for f in futures), 60, 'no low-priority job finished')
    done_before = sum(f.done() for f in futures)
    urgent = sio_ray.run({'job_type': 'test-sleep', 'sleep': 0, 'contest_priority': 100})
    results = [f.result(timeout=120) for f in futures]
    finished_before = sum(r['ended'] < urgent['ended'] for r in results)
    # It waits for at most the window of jobs Ray already had (and those
    # finishing while it was handed over), never for the rest of the batch.
    window = sio_ray.connect().dispatcher.window
    assert finished_before <= done_before + window + 2, (finished_before, done_before, window)
    assert finished_before < len(low) - 10


def test_a_driver_in_another_process_joins_the_cluster_named_by_ray_address(local_ray, tmp_path):
    driver = Driver({'jobs': [{'job_type': 'test-echo', 'echo': 'there',
                               'prefilters': ['test-node-id']}]}, tmp_path / 'driver.log')
    events = driver.until('done')
    assert driver.finish() == 0
    connected = events[0]
    assert connected['event'] == 'connected'
    assert connected['gcs'] == ray.get_runtime_context().gcs_address
    ours = sorted(n['NodeID'] for n in ray.nodes() if n['Alive'])
    assert connected['nodes'] == ours  # this cluster, not a Ray of its own
    [result] = driver.results(events).values()
    assert result['echoed'] == 'there' and result['ray_node_id'] in ours


def batch(tmp_path: Path, gate: Path) -> list[dict]:
    """Three jobs that end at once and one that waits for ``gate``."""
    quick = [{'job_type': 'test-wait', 'job_id': f'quick-{i}'} for i in range(3)]
    return quick + [{'job_type': 'test-wait', 'job_id': 'gated', 'wait_for': [str(gate)],
                     'wait_timeout': 600}]


def recorded(tmp_path: Path, batch_id: str) -> int:
    journal = sio_ray.Journal(tmp_path / 'journal', batch_id)
    journal.close()
    return len(journal)


@pytest.mark.parametrize('ending', ['shutdown', 'cancel', 'exit'])
def test_a_resumed_batch_serves_jobs_that_ran_and_runs_the_rest(local_ray, tmp_path, ending):
    gate = tmp_path / 'gate'
    jobs = batch(tmp_path, gate)
    spec = {'jobs': jobs, 'journal': str(tmp_path / 'journal'), 'batch': 'b'}
    # The first driver gets the three quick results, then ends (sio_ray.shutdown(),
    # sio_ray.cancel of the rest, or just exits) while the gated job still runs.
    first = Driver({**spec, 'stop_after': 3, 'then': ending}, tmp_path / 'first.log')
    events = first.until('result') + first.until('result') + first.until('result')
    if ending != 'exit':
        events += first.until('done')
    assert first.finish() == 0
    before = first.results(events)
    assert sorted(before) in ([0, 1, 2], [0, 1, 2, 3])
    assert all(before[i]['result'] == 'SUCCESS' for i in range(3))
    if ending != 'exit':
        assert before[3]['exception'] == {'shutdown': 'Ray was shut down before the job finished',
                                          'cancel': 'the job was cancelled'}[ending]
    # The driver's own FAILURE of a job that never finished is not kept.
    assert recorded(tmp_path, 'b') == 3
    # A second driver process resumes the batch, one job of it changed.
    gate.touch()
    changed = [dict(jobs[0], variant=2)] + jobs[1:]
    second = Driver({**spec, 'jobs': changed}, tmp_path / 'second.log')
    after = second.results(second.until('done'))
    assert second.finish() == 0
    assert [after[i] for i in (1, 2)] == [before[i] for i in (1, 2)]  # served as recorded
    assert after[0]['started'] > before[0]['ended']  # the changed job ran again
    assert after[3]['result'] == 'SUCCESS'  # the unfinished one ran this time
    assert recorded(tmp_path, 'b') == 5


def test_a_batch_resumes_after_its_driver_is_killed(local_ray, tmp_path):
    gate = tmp_path / 'gate'
    jobs = batch(tmp_path, gate)
    spec = {'jobs': jobs, 'journal': str(tmp_path / 'journal'), 'batch': 'k'}
    first = Driver({**spec, 'stop_after': 3, 'then': 'hold'}, tmp_path / 'first.log')
    before = first.results(first.until('holding'))
    first.kill()
    # As if the kill had struck in the middle of writing the next record.
    with open(tmp_path / 'journal' / 'k.journal', 'ab') as f:
        f.write(b'\x82\xa3key\xa5gat')
    gate.touch()
    second = Driver(spec, tmp_path / 'second.log')
    after = second.results(second.until('done'))
    assert second.finish() == 0
    assert [after[i] for i in range(3)] == [before[i] for i in range(3)]
    assert after[3]['result'] == 'SUCCESS'
    # The gated job's record follows the good ones, not the remains of the cut one.
    assert recorded(tmp_path, 'k') == 4


def test_a_journal_survives_a_record_cut_short(tmp_path):
    journal = sio_ray.Journal(tmp_path, 'cut')
    journal.record('0:a', {'job_type': 'ping', 'pong': 1})
    journal.close()
    with open(tmp_path / 'cut.journal', 'ab') as f:
        f.write(b'\x82\xa3key')  # a crash in the middle of the next record
    journal = sio_ray.Journal(tmp_path, 'cut')
    assert len(journal) == 1
    journal.record('1:b', {'job_type': 'ping', 'pong': 2})  # recorded after the cut
    journal.close()
    again = sio_ray.Journal(tmp_path, 'cut')
    assert len(again) == 2 and again.result('1:b') == {'job_type': 'ping', 'pong': 2}
    again.close()
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
    wait_until(lambda: processes_with(marker), 60, 'the sandboxed program never started')
    sio_ray.cancel(futures)
    results = [f.result(timeout=STOP_WITHIN) for f in futures]
    assert all(r['result'] == 'FAILURE' and 'cancelled' in r['exception'] for r in results), \
        [(r['job_type'], r['result'], r.get('exception', '')[:80]) for r in results]
    assert not any(f.ran for f in futures)
    # Stopped long before its own limits (60 s of CPU time) would have.
    wait_until(lambda: not processes_with(marker), STOP_WITHIN, 'the program outlived its job')


def test_cancelling_an_interactive_job_stops_the_solution_and_the_interactor(
        local_ray, programs, tmp_path):
    (tmp_path / 'in').write_text('')
    job = {'job_type': 'interactive-exec', 'use_filetracker': False,
           'exe_file': str(programs['busy_loop']), 'interactor_file': str(programs['sleep_forever']),
           'in_file': str(tmp_path / 'in'), 'exec_time_limit': 60000,
           'interactor_real_time_limit': 120000,
           'prefilters': ['test-pid-file'], 'pid_file': str(tmp_path / 'worker.pid')}
    [future] = sio_ray.submit_many([job])
    worker = int(wait_until(lambda: (tmp_path / 'worker.pid').exists()
                            and (tmp_path / 'worker.pid').read_text(), 60, 'the job never started'))

    def both_boxes():  # the solution (/box/exe) and the interactor (/box/soc) run
        below = descendants(worker)
        lines = b'\n'.join(below.values())
        return below if b'/box/exe' in lines and b'/box/soc' in lines else None
    boxes = wait_until(both_boxes, 60, 'the boxes never started')
    sio_ray.cancel([future])
    result = future.result(timeout=STOP_WITHIN)
    assert result['result'] == 'FAILURE' and 'cancelled' in result['exception']
    # Every process of both boxes ends, long before their own limits would end them.
    wait_until(lambda: not alive(boxes), STOP_WITHIN, 'box processes outlived their job')


def test_status_shows_queues_by_priority_and_node_caches(local_ray, ft_server, tmp_path):
    (tmp_path / 'in').write_text('status')
    name = FiletrackerClient(ft_server.url, tmp_path / 'origin').put_file('/status/in', tmp_path / 'in')
    checked = sio_ray.run({'job_type': 'ft-check', 'filetracker_url': ft_server.url,
                           'in_file': name, 'out_file': '/status/out'})
    assert checked['in_size'] == 6
    window = sio_ray.connect().dispatcher.window
    jobs = [{'job_type': 'test-sleep', 'sleep': 60, 'contest_priority': 5}] * (window + 2) + \
           [{'job_type': 'test-sleep', 'sleep': 60}] * 30
    futures = sio_ray.submit_many(jobs)
    try:
        me = ray.get_runtime_context().get_job_id()  # other drivers' queues may show too
        wait_until(lambda: any(q['driver'] == me and q['in_flight'] == window
                               for q in registry.published_queues()),
                   30, 'the queue was never published')
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
    assert re.search(r'node cache http://127\.0\.0\.1:\d+ on node \w+: \d+ hits \(\d+ read by '
                     r'jobs straight from the store\), [1-9]\d* misses', done.stdout), done.stdout
