"""Hostile programs under the isolated executor: each gets its verdict and the
host is checked to be unharmed.

Every case runs confined: the executor call happens in a child process that
has its own PID namespace (``unshare --pid --fork --kill-child``) and sits in
a pids cgroup, so a sandbox bug cannot take down the machine (a broken box's
``kill(-1)`` or fork bomb would stay inside the confinement).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from sio.workers.isolation import cgroups
from tests.conftest import processes_with

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which('bwrap') is None, reason='bubblewrap not installed')


def _confinement_prefix() -> list[str]:
    prefix = []
    kind = cgroups.backend()
    if kind is not None:
        base = cgroups.ROOT / ('pids' if kind == 'v1' else '') / 'sio-tests'
        base.mkdir(exist_ok=True)
        (base / 'pids.max').write_text('512')
        prefix = ['sh', '-c', f'echo $$ > {base / "cgroup.procs"} && exec "$@"', 'sh']
    if os.geteuid() == 0 and shutil.which('unshare'):
        prefix += ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']
    return prefix


def run_confined(program: Path, args=(), timeout=60, **spec) -> dict:
    spec = {'program': str(program), 'args': list(args), **spec}
    done = subprocess.run(
        [*_confinement_prefix(), sys.executable, '-m', 'tests.integration.confined_run',
         json.dumps(spec)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_busy_loop_is_tle_by_cpu_time(programs):
    r = run_confined(programs['busy_loop'], limits={'time_limit': 300})
    assert r['result_code'] == 'TLE' and r['result_string'] == 'time limit exceeded'
    assert r['time_used'] >= 270 and not r['real_time_killed']  # CPU is sampled every 10 ms


def test_sleeping_forever_is_tle_by_the_wall_clock(programs):
    r = run_confined(programs['sleep_forever'], limits={'time_limit': 200, 'real_time_limit': 500})
    assert r['result_code'] == 'TLE' and r['result_string'] == 'real time limit exceeded'
    assert r['real_time_killed'] and r['real_time_used'] >= 500 and r['time_used'] < 100


@pytest.mark.parametrize('program', ['malloc_bomb', 'bss_bomb', 'stack_bomb'])
def test_memory_bombs_are_mle(programs, program):
    r = run_confined(programs[program], limits={'mem_limit': 32768, 'time_limit': 5000})
    assert r['result_code'] == 'MLE', r
    assert r['result_string'] == 'memory limit exceeded'


def test_fork_bomb_is_contained_and_leaves_nothing(programs):
    marker = f'forkbomb-{uuid.uuid4().hex}'
    started = time.monotonic()
    r = run_confined(programs['fork_bomb'], [marker], limits={'time_limit': 1000})
    assert r['result_code'] == 'TLE'
    assert time.monotonic() - started < 20
    assert processes_with(marker) == []


def test_threads_count_towards_cpu_time(programs):
    r = run_confined(programs['threads'], limits={'time_limit': 400, 'real_time_limit': 5000})
    assert r['result_code'] == 'TLE' and r['result_string'] == 'time limit exceeded'
    # Five spinning threads on any number of cores: CPU time runs ahead of the wall clock.
    assert r['time_used'] >= r['real_time_used']


def test_output_flood_is_ole(programs):
    r = run_confined(programs['output_flood'], limits={'output_limit': 5 << 20})
    assert r['result_code'] == 'OLE'
    assert r['output_size'] <= 5 << 20


def test_writes_outside_the_box_fail_and_leave_the_host_unchanged(programs, tmp_path):
    target = tmp_path / 'victim.txt'
    target.write_text('original\n')
    host_tmp = Path('/tmp') / f'sio-escape-{uuid.uuid4().hex}'
    r = run_confined(programs['write_outside'],
                     [str(target), str(host_tmp), '/etc/sio-escape', '../escape.txt',
                      '{job}/escape.txt', '/proc/sys/kernel/hostname'])
    assert r['result_code'] == 'OK', r['output']
    assert target.read_text() == 'original\n'
    assert not host_tmp.exists() and not Path('/etc/sio-escape').exists()
    assert not Path('/escape-dir').exists()


def test_host_files_cannot_be_read(programs):
    secret = f'SECRET-{uuid.uuid4().hex}'
    r = run_confined(programs['read_files'],
                     ['/etc/shadow', '/etc/passwd', '../planted.txt', '{job}/planted.txt',
                      '/proc/1/environ'], plant={'planted.txt': secret})
    assert r['result_code'] == 'OK'
    assert secret not in r['output']
    assert 'root:' not in r['output']
    assert 'cannot open /etc/shadow' in r['output']


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(4)
    server.settimeout(0.5)
    yield server
    server.close()


def _nothing_arrived(server) -> bool:
    try:
        conn, _ = server.accept()
    except socket.timeout:
        return True
    conn.close()
    return False


def test_network_is_unreachable_seccomp_first(programs, listener):
    r = run_confined(programs['connect'], [str(listener.getsockname()[1])])
    assert r['result_code'] == 'RV'
    assert r['result_string'] == 'forbidden system call: socket'
    assert _nothing_arrived(listener)


def test_network_is_unreachable_without_seccomp_too(programs, listener):
    # The network namespace alone must already cut the box off.
    r = run_confined(programs['connect'], [str(listener.getsockname()[1])], seccomp=False)
    assert r['result_code'] == 'RE' and r['return_code'] == 3, r
    assert _nothing_arrived(listener)


def test_kill_everything_kills_nothing_outside(programs):
    sentinel = subprocess.Popen(['sleep', '60'], user=65534 if os.geteuid() == 0 else None)
    try:
        r = run_confined(programs['kill_all'])
        assert r['result_code'] in ('OK', 'RE')
        time.sleep(0.1)
        assert sentinel.poll() is None, 'a process outside the box was killed'
    finally:
        sentinel.kill()
        sentinel.wait()


def test_detached_background_processes_are_killed(programs):
    marker = f'daemon-{uuid.uuid4().hex}'
    r = run_confined(programs['daemonize'], [marker])
    assert r['result_code'] == 'OK'
    assert processes_with(marker) == []


def test_ptrace_is_a_rule_violation_named_in_the_result(programs):
    r = run_confined(programs['ptrace'])
    assert r['result_code'] == 'RV'
    assert r['result_string'] == 'forbidden system call: ptrace'


def test_exec_of_a_shell_fails(programs):
    r = run_confined(programs['exec_shell'])
    assert r['result_code'] in ('RV', 'RE')
    assert 'shell' not in r['output']


@pytest.mark.parametrize('code, result', [(0, 'OK'), (1, 'RE'), (42, 'RE'), (200, 'RE')])
def test_exit_codes(programs, code, result):
    r = run_confined(programs['exit_code'], [str(code)])
    assert r['result_code'] == result and r['return_code'] == code
    if code:
        assert r['result_string'] == f'program exited with code {code}'


@pytest.mark.parametrize('signal_number', [6, 8, 11])
def test_signals(programs, signal_number):
    r = run_confined(programs['raise_signal'], [str(signal_number)])
    assert r['result_code'] == 'RE'
    assert r['result_string'] == f'program exited due to signal {signal_number}'
    assert r['return_code'] == -1 and r['exit_signal'] == signal_number


def test_the_unprotected_executor_kills_detached_children_too(programs):
    marker = f'daemon-{uuid.uuid4().hex}'
    r = run_confined(programs['daemonize'], [marker], executor='unprotected')
    assert r['result_code'] == 'OK'
    assert processes_with(marker) == []
