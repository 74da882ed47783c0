"""The OIOIOI gateway as OIOIOI reaches it: the real ``sio-ray gateway`` command
in a process of its own, joined to this module's Ray, called over HTTP with
``xmlrpc.client``; jobs read and write a real filetracker server; results come
back to small HTTP listeners playing OIOIOI's ``receive_from_workers``."""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import xmlrpc.client
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import ray

from sio.workers.filetracker.client import FiletrackerClient
from tests.conftest import wait_until

BIN = Path(sys.executable).parent
PROGRAMS = Path(__file__).resolve().parents[1] / 'programs'


# -- OIOIOI's side ------------------------------------------------------------------


class Receiver:
    """OIOIOI's ``receive_from_workers``: takes POSTs whose multipart form field
    ``data`` holds a finished group, checks it as OIOIOI does (``workers_jobs``
    deleted unconditionally, ``workers_jobs.results`` or ``error`` required)
    and answers 200.  It answers 500 to the first ``failures`` POSTs of each
    group, and to every POST while ``accepting`` is false."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.accepting = True
        self.posts: list[dict] = []  # every POST: group_id, status, user agent
        self.delivered: dict[str, dict] = {}  # group_id -> the env as POSTed
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers['Content-Length']))
                status = receiver._receive(self.headers, body)
                self.send_response(status)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'OK')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/'

    def _receive(self, headers, body: bytes) -> int:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b'Content-Type: ' + headers['Content-Type'].encode() + b'\r\n\r\n' + body)
        fields = {part.get_param('name', header='content-disposition'): part.get_content()
                  for part in message.iter_parts()}
        env = json.loads(fields['data'])
        posted = json.loads(fields['data'])
        del env['workers_jobs']  # as OIOIOI: a POST without it gets no answer
        env.pop('workers_jobs.extra_args', None)
        assert 'workers_jobs.results' in env or 'error' in env
        with self._lock:
            group_id = env['group_id']
            tries = sum(p['group_id'] == group_id for p in self.posts)
            status = 200 if self.accepting and tries >= self.failures else 500
            self.posts.append({'group_id': group_id, 'status': status,
                               'user_agent': headers['User-Agent'],
                               'content_type': headers['Content-Type']})
            if status == 200:
                self.delivered[group_id] = posted
        return status

    def failed_posts(self, group_id: str) -> int:
        with self._lock:
            return sum(p['group_id'] == group_id and p['status'] != 200 for p in self.posts)

    def wait(self, group_ids, timeout: float = 180) -> dict[str, dict]:
        """The delivered envs of ``group_ids`` (waiting for them)."""
        wait_until(lambda: all(g in self.delivered for g in group_ids), timeout,
                   f'results of {sorted(set(group_ids) - set(self.delivered))}')
        return {g: self.delivered[g] for g in group_ids}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Hanging:
    """A return_url that accepts connections and never answers."""

    def __init__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.url = f'http://127.0.0.1:{self.sock.getsockname()[1]}/'

    def close(self):
        self.sock.close()


# -- the gateway ---------------------------------------------------------------------


class Gateway:
    """``sio-ray gateway`` in a process of its own (started by :meth:`start`)."""

    def __init__(self, tmp: Path, *args: str, state_dir: Path | None = None):
        self.tmp = tmp
        self.args = list(args)
        self.state_dir = state_dir or tmp / f'state-{uuid.uuid4().hex[:6]}'
        self.port = 0
        self.log = tmp / f'gateway-{uuid.uuid4().hex[:6]}.log'
        self.process = None

    def start(self) -> 'Gateway':
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen(
                [str(BIN / 'sio-ray'), 'gateway', '--address',
                 ray.get_runtime_context().gcs_address, '--port', str(self.port),
                 '--state-dir', str(self.state_dir), '--retry-initial', '0.2', *self.args],
                stdout=subprocess.PIPE, stderr=log, text=True,
                env={**os.environ, 'RAY_AUTH_MODE': 'disabled'})
        found = {}

        def read():
            for line in self.process.stdout:
                if 'serving' in line:
                    found['url'] = line.split('serving ')[1].split()[0]
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(120)
        assert 'url' in found, f'the gateway did not start: {self.log.read_text()[-3000:]}'
        self.url = found['url']
        self.port = int(self.url.rsplit(':', 1)[1].strip('/'))  # a restart keeps the port
        return self

    def proxy(self, url: str | None = None) -> xmlrpc.client.ServerProxy:
        # As OIOIOI's SioworkersdBackend: xmlrpc.client.Server(SIOWORKERSD_URL, allow_none=True)
        return xmlrpc.client.Server(url or self.url, allow_none=True)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def log_text(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope='module')
def gateway(local_ray, tmp_path_factory):
    """One gateway for the tests that do not kill it."""
    gw = Gateway(tmp_path_factory.mktemp('gateway')).start()
    yield gw
    assert gw.stop() == 0, gw.log_text()[-3000:]


@pytest.fixture
def receiver():
    r = Receiver(failures=2)
    yield r
    r.close()


def sync(gw: Gateway, group: dict) -> dict:
    return gw.proxy().sync_run_group(json.dumps(group))


def ping_group(instance: str = 'OIOIOI', n: int = 1, **top) -> dict:
    return {'oioioi_instance': instance, 'contest_priority': 0, 'contest_weight': 1000, **top,
            'workers_jobs': {f'p{i}': {'job_type': 'ping', 'ping': f'{instance}-{i}'}
                             for i in range(n)}}


def sentinel(gw: Gateway) -> None:
    """A sync group through ``gw``; queued after anything queued before, so it
    comes back only once such jobs ran (one contest, one priority: FIFO)."""
    assert sync(gw, ping_group())['workers_jobs.results']['p0']['pong'] == 'OIOIOI-0'


# -- a submission judged as OIOIOI builds it (reference oioioi-client.md §2) ----------

CHECKER = r'''
#include <stdio.h>
#include <string.h>
#include "chk_util.h"
int main(int argc, char **argv) {
    char out[64] = {0}, hint[64] = {0};
    FILE *o = fopen(argv[2], "r"), *h = fopen(argv[3], "r");
    if (argc < 4 || !o || !h) return 2;
    if (!fgets(out, sizeof out, o)) out[0] = 0;
    if (!fgets(hint, sizeof hint, h)) hint[0] = 0;
    if (strcmp(out, hint) == 0) printf("%s\n", CHK_OK);
    else printf("WRONG\nexpected %s", hint);
    return 0;
}
'''
SOLUTIONS = {
    'OK': '#include <stdio.h>\nint main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2)'
          ' return 3; printf("%ld\\n", a + b); return 0; }\n',
    'WA': '#include <stdio.h>\nint main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2)'
          ' return 3; printf("%ld\\n", a - b); return 0; }\n',
    'TLE': 'int main(void) { volatile unsigned long i = 0; for (;;) i++; }\n',
    'RE': '#include <stdio.h>\nint main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2)'
          ' return 3; return 1; }\n',
}
TESTS = {'0': ('1 2\n', '3\n', 'EXAMPLE'), '1a': ('2 3\n', '5\n', 'NORMAL'),
         '1b': ('40 2\n', '42\n', 'NORMAL')}


class Problem:
    """A problem in filetracker as sinolpack leaves it: tests, and a checker
    compiled through the gateway by a package-unpacking compile job."""

    def __init__(self, gw: Gateway, url: str, tmp: Path):
        self.url, self.tmp = url, tmp
        self.client = FiletrackerClient(url, tmp / 'oioioi-cache')
        self.tests = {name: (self.put(f'/problems/1/sum{name}.in', given),
                             self.put(f'/problems/1/sum{name}.out', expected))
                      for name, (given, expected, _) in TESTS.items()}
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, 'w') as zf:
            zf.writestr('chk_util.h', '#define CHK_OK "OK"\n')
        compile_chk = {
            'package_id': 1, 'unpack_dir': '/unpack/1', 'job_id': 'local',
            'job_type': 'compile', 'task_priority': 500, 'compiler': 'system-c',
            'language': 'c', 'source_file': self.put('/unpack/1/local-sumchk.c', CHECKER),
            'out_file': '/unpack/1/local-sumchk.e',
            # OIOIOI embeds its local temporary path in the archive's name.
            'additional_archive': self.put(
                '/unpack/1/local-/tmp/tmpriy4ov4a/sum/compilation-dir-archive.zip',
                archive.getvalue()),
            'extra_compilation_args': ['-Wall', '-Wno-unused-result', '-Werror'],
            'extra_files': {}, 'filetracker_url': url}
        package = sync(gw, {'workers_jobs': {'chk': compile_chk}, 'workers_jobs.extra_args': {},
                            'oioioi_instance': 'OIOIOI', 'contest_priority': 0,
                            'contest_weight': 1000})
        result = package['workers_jobs.results']['chk']
        assert result['result_code'] == 'OK', result.get('compiler_output')
        self.checker = result['out_file']
        assert self.checker.startswith('/unpack/1/local-sumchk.e@')

    def put(self, path: str, data: str | bytes) -> str:
        local = self.tmp / 'upload'
        local.write_bytes(data.encode() if isinstance(data, str) else data)
        return self.client.put_file(path, local, to_local_store=False)

    def evaluation(self, submission_id: int, verdict: str, saved_environ_id: int) -> dict:
        """The top-level env of a submission's evaluation (§2.0), before compiling."""
        return {
            'job_id': uuid.uuid4().urn, 'extra_args': {}, 'is_rejudge': False,
            'source_file': self.put(f'/submissions/c/{submission_id}.c', SOLUTIONS[verdict]),
            'language': 'c', 'compiler': 'system-gcc', 'submission_id': submission_id,
            'submission_kind': 'NORMAL', 'problem_instance_id': 1, 'problem_id': 1,
            'problem_short_name': 'sum', 'round_id': 1, 'contest_id': 'c',
            'oioioi_instance': 'OIOIOI', 'contest_priority': 10, 'contest_weight': 1000,
            'report_kinds': ['INITIAL', 'NORMAL'], 'checker': self.checker,
            'checker_format': 'english_abbreviated', 'exec_mode': 'sio2jail',
            'untrusted_checker': False, 'extra_compilation_args': [], 'extra_files': {},
            'eval_dir': f'/eval/c/{submission_id}',
            'restore_environ_func': 'oioioi.sioworkers.handlers.restore_job',
            'saved_environ_id': saved_environ_id, 'compilation_result_size_limit': 10485760}

    def compile_group(self, env: dict) -> dict:
        """§2.1: the compile job is a shallow copy of the whole env, recipe included."""
        job = {key: value for key, value in env.items() if key != 'eval_dir'}
        job.update(job_type='compile', task_priority=200, filetracker_url=self.url,
                   out_file=f"{env['eval_dir']}/{env['job_id']}-exe",
                   recipe=[['compile_end', 'oioioi.programs.handlers.compile_end'],
                           ['run_tests', 'oioioi.programs.handlers.run_tests']],
                   error_handlers=[['remove_queuedjob_on_error',
                                    'oioioi.evalmgr.handlers.remove_queuedjob_on_error']])
        return {**env, 'workers_jobs': {'compile': job}}

    def tests_group(self, env: dict, compiled: dict) -> dict:
        """§2.2: one exec job per test, with the problem's checker."""
        env = {key: value for key, value in env.items() if key != 'workers_jobs'}
        env.update(compiled_file=compiled['out_file'], compilation_result='OK',
                   exec_info=compiled['exec_info'],
                   tests={name: {'name': name, 'kind': kind} for name, (_, _, kind)
                          in TESTS.items()})
        jobs = {}
        for order, (name, (in_file, hint_file)) in enumerate(self.tests.items()):
            kind = TESTS[name][2]
            jobs[name] = {
                'id': order + 1, 'name': name, 'kind': kind, 'group': name[0],
                'max_score': 33, 'order': order, 'to_judge': True, 'in_file': in_file,
                'hint_file': hint_file, 'exec_time_limit': 500, 'exec_mem_limit': 65536,
                'job_type': 'sio2jail-exec', 'task_priority': 300 if kind == 'EXAMPLE' else 100,
                'exe_file': compiled['out_file'], 'exec_info': compiled['exec_info'],
                'check_output': True, 'chk_file': self.checker,
                'checker_format': 'english_abbreviated', 'untrusted_checker': False,
                'filetracker_url': self.url}
        return {**env, 'workers_jobs': jobs, 'workers_jobs.extra_args': {},
                'workers_jobs.not_to_judge': []}


@pytest.fixture(scope='module')
def problem(gateway, ft_server, tmp_path_factory):
    return Problem(gateway, ft_server.url, tmp_path_factory.mktemp('problem'))


def check_verdicts(verdict: str, finished: dict, env: dict) -> None:
    results = finished['workers_jobs.results']
    assert set(results) == set(TESTS), finished.get('error')
    for name, result in results.items():
        assert result['result_code'] == verdict, (name, result)
        # Results echo the inputs OIOIOI reads back (§2.2), carry sioworkersd's ids.
        assert (result['exec_time_limit'], result['exec_mem_limit']) == (500, 65536)
        assert result['name'] == name and result['in_file'] == env['workers_jobs'][name]['in_file']
        # Within the limits their verdict implies (a TLE may be a wall-clock kill, so
        # any CPU time); every program takes some memory, none here more than allowed.
        assert type(result['time_used']) is int and type(result['mem_used']) is int
        assert 0 < result['time_used'] if verdict == 'TLE' else 0 <= result['time_used'] <= 500
        assert 0 < result['mem_used'] <= 65536, result
        assert result['group_id'] == finished['group_id']
        assert result['task_id'] == finished['workers_jobs'][name]['task_id']
        assert result['contest_uid'] == ['OIOIOI', 'c'] and result['result'] == 'SUCCESS'
        assert result['result_percentage'] == ([100, 1] if verdict == 'OK' else [0, 1]), result
    if verdict == 'RE':
        assert all(r['result_string'] == 'program exited with code 1' for r in results.values())
    for key in ('saved_environ_id', 'job_id', 'submission_id', 'tests', 'compiled_file'):
        assert finished[key] == env[key]


@pytest.mark.parametrize('mode', ['sync_run_group', 'run_group'])
def test_a_submission_is_compiled_and_judged_through_the_gateway(gateway, problem, receiver,
                                                                  mode):
    """Four submissions (OK, WA, TLE, RE), each compiled by one group and judged
    on three tests with a checker by another, four at once; through
    sync_run_group, or through run_group with the results POSTed back (each
    POST answered 500 twice before 200)."""
    base = 1 if mode == 'sync_run_group' else 11
    envs = {verdict: problem.evaluation(base + i, verdict, 100 + base + i)
            for i, verdict in enumerate(SOLUTIONS)}

    def stage(group: dict) -> dict:
        if mode == 'sync_run_group':
            return sync(gateway, group)
        group_id = gateway.proxy().run_group(json.dumps({**group, 'return_url': receiver.url}))
        assert group_id.startswith('GROUP_urn:uuid:')
        finished = receiver.wait([group_id])[group_id]
        assert receiver.failed_posts(group_id) == 2  # retried until 200
        return finished

    def evaluate(verdict: str) -> tuple[dict, dict, dict]:
        compile_group = problem.compile_group(envs[verdict])
        compiled = stage(compile_group)
        result = compiled['workers_jobs.results']['compile']
        assert result['result_code'] == 'OK', result.get('compiler_output')
        # The compile job echoes the whole env, recipe and error handlers included.
        assert result['recipe'] == compile_group['workers_jobs']['compile']['recipe']
        assert result['out_file'].startswith(f"/eval/c/{envs[verdict]['submission_id']}/"
                                             f"{envs[verdict]['job_id']}-exe@")
        tests = problem.tests_group({**envs[verdict], **compiled}, result)
        return tests, stage(tests), compiled

    with ThreadPoolExecutor(4) as pool:
        done = dict(zip(SOLUTIONS, pool.map(evaluate, SOLUTIONS)))
    for verdict, (sent, finished, compiled) in done.items():
        check_verdicts(verdict, finished, sent)
        assert compiled['saved_environ_id'] == envs[verdict]['saved_environ_id']
        assert compiled['workers_jobs']['compile']['task_id'].startswith('urn:uuid:')
    if mode == 'run_group':
        posts = [p for p in receiver.posts]
        assert {p['user_agent'] for p in posts} == {'sioworkersd'}
        assert all(p['content_type'].startswith('multipart/form-data') for p in posts)


def test_an_interactive_job_with_hint_file_slash_dot(gateway, problem, ft_server):
    """Interactive packages have no .out files: OIOIOI sends hint_file "/."."""
    soc = problem.put('/unpack/1/local-sumsoc.c', (PROGRAMS / 'interactor.c').read_text())
    sol = problem.put('/submissions/c/50.c', (PROGRAMS / 'sol_double.c').read_text())
    job_id = uuid.uuid4().urn
    compiled = sync(gateway, {'workers_jobs': {
        'soc': {'job_type': 'compile', 'compiler': 'system-c', 'source_file': soc,
                'out_file': '/unpack/1/local-sumsoc.e', 'filetracker_url': ft_server.url},
        'compile': {'job_type': 'compile', 'compiler': 'system-gcc', 'source_file': sol,
                    'out_file': f'/eval/c/50/{job_id}-exe', 'filetracker_url': ft_server.url}}}
                    )['workers_jobs.results']
    finished = sync(gateway, {'contest_id': 'c', 'oioioi_instance': 'OIOIOI', 'workers_jobs': {
        '0': {'name': '0', 'kind': 'EXAMPLE', 'in_file': problem.put('/problems/1/abc0.in', '20\n'),
              'hint_file': '/.', 'exec_time_limit': 1000, 'exec_mem_limit': 10024,
              'job_type': 'sio2jail-interactive-exec', 'task_priority': 300,
              'exe_file': compiled['compile']['out_file'], 'exec_info': {'mode': 'executable'},
              'check_output': True, 'checker_format': 'english_abbreviated',
              'interactor_file': compiled['soc']['out_file'], 'num_processes': 1,
              'untrusted_checker': False, 'filetracker_url': ft_server.url}}})
    result = finished['workers_jobs.results']['0']
    assert (result['result_code'], result['result_percentage']) == ('OK', [100, 1])
    assert result['hint_file'] == '/.'


def test_a_failing_job_fails_its_group(gateway, receiver):
    group = {'oioioi_instance': 'OIOIOI', 'contest_id': 'c', 'saved_environ_id': 7,
             'workers_jobs': {'ok': {'job_type': 'ping', 'ping': 1},
                              'broken': {'job_type': 'test-raise'}}}
    # Synchronously: an XML-RPC Fault, as sioworkersd.
    with pytest.raises(xmlrpc.client.Fault) as fault:
        sync(gateway, group)
    assert fault.value.faultCode == 8002
    assert fault.value.faultString.startswith('Some tasks in a group failed.\n\nbroken: ')
    assert 'unexpected trouble' in fault.value.faultString
    # Asynchronously: the POST has the group's error, the failed job's error, the other result.
    group_id = gateway.proxy().run_group(json.dumps({**group, 'return_url': receiver.url}))
    finished = receiver.wait([group_id])[group_id]
    assert finished['error']['message'].startswith('Some tasks in a group failed.\n\nbroken: ')
    assert 'ZeroDivisionError' in finished['error']['traceback']
    assert finished['workers_jobs']['broken']['error']['message'] == 'unexpected trouble'
    assert set(finished['workers_jobs.results']) == {'ok'}
    assert finished['saved_environ_id'] == 7


def test_a_group_asking_too_much_memory_is_refused_and_nothing_runs(gateway, receiver, tmp_path):
    arrived = tmp_path / 'ran'
    group = {'workers_jobs': {
        'small': {'job_type': 'test-wait', 'arrive': str(arrived)},
        'huge': {'job_type': 'exec', 'exec_mem_limit': 3 * 1024 * 1024}}}
    finished = sync(gateway, group)
    message = 'One of the tasks requires 3072 MiB of RAM, exceeding the limit of 2048 MiB'
    assert finished['error'] == {'message': message, 'traceback': ''}
    assert 'workers_jobs.results' not in finished
    group_id = gateway.proxy().run_group(json.dumps({**group, 'return_url': receiver.url}))
    delivered = receiver.wait([group_id])[group_id]
    assert delivered['error']['message'] == message and 'workers_jobs.results' not in delivered
    sentinel(gateway)
    assert not arrived.exists()


def test_bad_input_is_a_fault_naming_the_key_and_queues_nothing(gateway, receiver, tmp_path):
    arrived = tmp_path / 'ran'
    good = {'job_type': 'test-wait', 'arrive': str(arrived)}
    proxy = gateway.proxy()
    cases = [
        (proxy.sync_run_group, '{"workers_jobs": ', 'group: invalid JSON'),
        (proxy.sync_run_group, json.dumps({'contest_id': 'c'}), "group['workers_jobs']"),
        (proxy.run_group, json.dumps([good]), 'group: list is not a dict'),
        (proxy.sync_run_group, json.dumps({'workers_jobs': [good]}), "group['workers_jobs']"),
        (proxy.sync_run_group, json.dumps({'workers_jobs': {'a': good, 'b': 'ping'}}),
         "group['workers_jobs']['b']: str is not an environ"),
        (proxy.sync_run_group, json.dumps({'workers_jobs': {
            'a': good, 'b': {'job_type': 'exec', 'exec_mem_limit': '64M'}}}),
         "group['workers_jobs']['b']: environ['exec_mem_limit']: '64M'"),
        (proxy.run_group, json.dumps({'workers_jobs': {'a': good}}), "group['return_url']"),
        (proxy.run_group, json.dumps({'workers_jobs': {'a': good},
                                      'return_url': 'ftp://127.0.0.1/'}),
         "group['return_url']: 'ftp://127.0.0.1/' is not an http"),
        (proxy.run_group, json.dumps({'workers_jobs': {'a': good}, 'return_url': 'snag:7890'}),
         "group['return_url']"),
    ]
    for method, argument, named in cases:
        with pytest.raises(xmlrpc.client.Fault) as fault:
            method(argument)
        assert fault.value.faultCode == 8003 and named in fault.value.faultString, \
            (argument, fault.value.faultString)
    with pytest.raises(xmlrpc.client.Fault) as fault:
        proxy.no_such_method('{}')
    assert fault.value.faultCode == 8001
    with pytest.raises(xmlrpc.client.Fault) as fault:
        proxy.run_group()
    assert fault.value.faultCode == 8003
    sentinel(gateway)
    assert not arrived.exists()
    # An empty group is legal and comes back at once.
    assert sync(gateway, {'workers_jobs': {}, 'saved_environ_id': 3})['workers_jobs.results'] == {}
    group_id = proxy.run_group(json.dumps({'workers_jobs': {}, 'return_url': receiver.url}))
    assert receiver.wait([group_id])[group_id]['workers_jobs.results'] == {}


def test_answers_are_xmlrpc_marshallable(gateway):
    """Ints beyond 32 bits, tuples, bytes and characters XML cannot carry come
    back over XML-RPC (a plain sioworkersd answer would not even marshal)."""
    echo = {'big': 2**40, 'huge': 2**63 + 5, 'negative': -2**35, 'text': 'a\x01b\r\nc\x7f',
            'none': None, 'emoji': '\U0001f600'}
    finished = sync(gateway, {'workers_jobs': {
        'echo': {'job_type': 'test-echo', 'echo': echo},
        'bytes': {'job_type': 'test-bytes'}}, 'saved_environ_id': 2**33})
    results = finished['workers_jobs.results']
    assert results['echo']['echoed'] == {**echo, 'text': 'a\ufffdb\r\nc\x7f'}
    assert results['bytes']['result_percentage'] == [1, 2]
    assert results['bytes']['stdout'] == ['line \ufffd', 'two']
    assert finished['saved_environ_id'] == 2**33


def test_get_workers_get_queue_and_forget_worker(gateway, receiver, tmp_path):
    gate, arrived = tmp_path / 'gate', tmp_path / 'arrived'
    proxy = gateway.proxy()
    group_id = proxy.run_group(json.dumps({
        'return_url': receiver.url, 'oioioi_instance': 'OIOIOI', 'contest_id': 'w',
        'contest_priority': 10, 'workers_jobs': {'wait': {
            'job_type': 'test-wait', 'arrive': str(arrived), 'wait_for': [str(gate)]}}}))
    try:
        wait_until(arrived.exists, 120, 'the job never started')
        # Ray's State API tells which jobs run where, a moment late.
        workers = wait_until(lambda: [w for w in proxy.get_workers() if any(
            t.startswith('sio:test-wait:urn:uuid:') for t in w['tasks'])], 60,
            'get_workers never listed the running job')
        assert len(workers) == 1
        worker = workers[0]
        assert set(worker) == {'name', 'info', 'tasks', 'is_running_cpu_exec'}
        info = worker['info']
        assert info['name'] == worker['name'] and info['concurrency'] == 2
        assert info['can_run_cpu_exec'] is True and worker['is_running_cpu_exec'] is False
        assert isinstance(info['available_ram_mb'], int) and info['available_ram_mb'] > 0
        assert all(task.startswith('sio:') for task in worker['tasks'])
        queue = proxy.get_queue()
        json.dumps(queue)  # JSON-serialisable
        assert queue['in_flight_jobs'] == 1 and queue['groups'] == 1
        assert queue['listed_groups'][0]['group_id'] == group_id
        assert queue['listed_groups'][0]['contest_id'] == 'w'
        assert (queue['listed_groups'][0]['jobs'], queue['listed_groups'][0]['jobs_done']) == (1, 0)
        with pytest.raises(xmlrpc.client.Fault, match='is a live Ray node'):
            proxy.forget_worker(json.dumps(worker['name']))
        assert proxy.forget_worker(json.dumps('gone:0123abcd')) is True
    finally:
        gate.touch()
    receiver.wait([group_id])
    assert proxy.get_queue()['groups'] == 0


def test_two_oioioi_instances_share_one_gateway(gateway):
    """Each instance's results go to its own return_url, under its own contest_uid."""
    receivers = {'szkopul': Receiver(), 'OIOIOI': Receiver()}
    try:
        def submit(instance):
            ids = []
            for i in range(5):
                group = ping_group(instance, n=2, contest_id='c', saved_environ_id=i,
                                   return_url=receivers[instance].url)
                ids.append(gateway.proxy().run_group(json.dumps(group)))
            return ids

        with ThreadPoolExecutor(2) as pool:
            ids = dict(zip(receivers, pool.map(submit, receivers)))
        for instance, receiver in receivers.items():
            delivered = receiver.wait(ids[instance])
            assert set(receiver.delivered) == set(ids[instance])
            assert sorted(env['saved_environ_id'] for env in delivered.values()) == list(range(5))
            for env in delivered.values():
                for name, result in env['workers_jobs.results'].items():
                    assert result['contest_uid'] == [instance, 'c']
                    assert result['pong'] == f'{instance}-{name[1:]}'
    finally:
        for receiver in receivers.values():
            receiver.close()


# -- priorities ----------------------------------------------------------------------


def test_a_contest_of_higher_priority_goes_first(local_ray, tmp_path):
    """One job in Ray at a time (--window 1): while a job holds it, a contest
    of priority 10 and then one of priority 20 send their groups; when it
    ends, every job of the priority-20 contest runs before any of the other,
    and inside a contest by task_priority."""
    gw = Gateway(tmp_path, '--window', '1').start()
    receiver = Receiver()
    try:
        gate, arrived = tmp_path / 'gate', tmp_path / 'arrived'
        proxy = gw.proxy()
        proxy.run_group(json.dumps({'return_url': receiver.url, 'workers_jobs': {
            'block': {'job_type': 'test-wait', 'arrive': str(arrived), 'wait_for': [str(gate)]}}}))
        wait_until(arrived.exists, 120, 'the blocking job never started')

        def group(contest, priority):
            return {'return_url': receiver.url, 'oioioi_instance': 'OIOIOI',
                    'contest_id': contest, 'contest_priority': priority, 'contest_weight': 1000,
                    'workers_jobs': {f'{contest}-{task_priority}': {
                        'job_type': 'test-sleep', 'sleep': 0, 'task_priority': task_priority}
                        for task_priority in (100, 300, 200)}}

        low = proxy.run_group(json.dumps(group('low', 10)))
        high = proxy.run_group(json.dumps(group('high', 20)))
        gate.touch()
        delivered = receiver.wait([low, high])
        started = {name: result['started'] for g in (low, high)
                   for name, result in delivered[g]['workers_jobs.results'].items()}
        order = sorted(started, key=started.get)
        assert order == ['high-300', 'high-200', 'high-100', 'low-300', 'low-200', 'low-100']
    finally:
        receiver.close()
        assert gw.stop() == 0


# -- nothing is lost ---------------------------------------------------------------


def test_groups_running_when_the_gateway_is_killed_run_again(local_ray, tmp_path):
    receiver = Receiver()
    gw = Gateway(tmp_path).start()
    try:
        gate = tmp_path / 'gate'
        arrived = [tmp_path / f'arrived-{i}' for i in range(3)]
        ids = [gw.proxy().run_group(json.dumps({
            'return_url': receiver.url, 'saved_environ_id': i, 'workers_jobs': {
                'wait': {'job_type': 'test-wait', 'arrive': str(arrived[i]),
                         'wait_for': [str(gate)]},
                'ping': {'job_type': 'ping', 'ping': i}}})) for i in range(3)]
        wait_until(lambda: any(a.exists() for a in arrived), 120, 'no job started')
        gw.kill()
        gate.touch()  # the killed gateway's jobs could finish now: they must not be lost
        for a in arrived:
            a.unlink(missing_ok=True)
        gw.start()
        delivered = receiver.wait(ids)
        for i, group_id in enumerate(ids):
            results = delivered[group_id]['workers_jobs.results']
            assert set(results) == {'wait', 'ping'} and results['ping']['pong'] == i
            assert results['wait']['result'] == 'SUCCESS'
            assert delivered[group_id]['saved_environ_id'] == i
        assert 'taken up from the last run' in gw.log_text()
        # One gateway per state directory; --replace stops the one there.
        refused = subprocess.run(
            [str(BIN / 'sio-ray'), 'gateway', '--address', ray.get_runtime_context().gcs_address,
             '--port', '0', '--state-dir', str(gw.state_dir)],
            capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2
        assert f'another gateway (pid {gw.process.pid}) uses the state directory' in refused.stderr
        successor = Gateway(tmp_path, '--replace', state_dir=gw.state_dir).start()
        assert gw.process.wait(60) == 0
        gw = successor
        assert gw.proxy().get_queue()['groups'] == 0
    finally:
        receiver.close()
        assert gw.stop() == 0


def test_results_pending_delivery_when_the_gateway_is_killed_are_delivered(local_ray, tmp_path):
    receiver = Receiver()
    receiver.accepting = False  # OIOIOI's receiver is down
    gw = Gateway(tmp_path).start()
    try:
        ids = [gw.proxy().run_group(json.dumps(ping_group(n=2, saved_environ_id=i,
                                                          return_url=receiver.url)))
               for i in range(3)]
        wait_until(lambda: all(receiver.failed_posts(g) >= 2 for g in ids), 60,
                   'the deliveries were not tried')
        gw.kill()
        receiver.accepting = True
        gw.start()
        delivered = receiver.wait(ids, timeout=60)
        assert sorted(env['saved_environ_id'] for env in delivered.values()) == [0, 1, 2]
        wait_until(lambda: gw.proxy().get_queue()['deliveries'] == 0, 10, 'deliveries kept')
    finally:
        receiver.close()
        assert gw.stop() == 0


# -- security and unreachable receivers --------------------------------------------------


def test_a_token_guards_every_call_and_a_dead_return_url_is_dropped_in_time(local_ray, tmp_path):
    token = tmp_path / 'token'
    token.write_text('s3cret-token\n')
    gw = Gateway(tmp_path, '--token-file', str(token), '--give-up', '3',
                 '--delivery-timeout', '2').start()
    good, refusing, hanging = Receiver(), Receiver(), Hanging()
    refusing.accepting = False
    try:
        for url in (gw.url, gw.url.replace('://', '://oioioi:wrong@')):
            with pytest.raises(xmlrpc.client.ProtocolError) as error:
                gw.proxy(url).get_workers()
            assert error.value.errcode == 401
        # OIOIOI puts the token in SIOWORKERSD_URL: http basic authentication.
        proxy = gw.proxy(gw.url.replace('://', '://oioioi:s3cret-token@'))
        assert proxy.sync_run_group(json.dumps(ping_group()))['workers_jobs.results']
        started = time.monotonic()
        stuck = [proxy.run_group(json.dumps(ping_group(return_url=url)))
                 for url in (refusing.url, hanging.url, hanging.url, hanging.url,
                             'http://127.0.0.1:9/')]
        ok = proxy.run_group(json.dumps(ping_group(return_url=good.url)))
        good.wait([ok], timeout=20)  # a refusing or hanging receiver holds up no one else
        assert time.monotonic() - started < 20
        wait_until(lambda: proxy.get_queue()['deliveries'] == 0, 30,
                   'undeliverable results were not dropped')
        assert refusing.failed_posts(stuck[0]) >= 2
        log = gw.log_text()
        assert all(f'dropping the result of {g}' in log for g in stuck)
    finally:
        for r in (good, refusing, hanging):
            r.close()
        assert gw.stop() == 0
