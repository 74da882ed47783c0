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
import uuid
from pathlib import Path

import pytest

from sio.workers.isolation import box, cgroups
from tests.conftest import remove_cgroup

ROOT = Path(__file__).resolve().parents[2]
# CI installs bubblewrap: there these tests run (and fail without it), never skip.
pytestmark = pytest.mark.skipif(shutil.which('bwrap') is None and os.environ.get('CI') != 'true',
                                reason='bubblewrap not installed')


@pytest.fixture(scope='module', autouse=True)
def confinement_cgroup():
    """A pids cgroup (512 tasks) the confined runs start in; removed afterwards."""
    global _CONFINEMENT
    kind = cgroups.backend()
    if kind is None:
        yield
        return
    base = cgroups.root() / ('pids' if kind == 'v1' else '') / f'sio-tests-{uuid.uuid4().hex[:8]}'
    base.mkdir()
    (base / 'pids.max').write_text('512')
    _CONFINEMENT = base
    try:
        yield
    finally:
        _CONFINEMENT = None
        remove_cgroup(base)


_CONFINEMENT: Path | None = None


def _confinement_prefix() -> list[str]:
    prefix = []
    if _CONFINEMENT is not None:
        prefix = ['sh', '-c', f'echo $$ > {_CONFINEMENT / "cgroup.procs"} && exec "$@"', 'sh']
    if os.geteuid() == 0 and shutil.which('unshare'):
        prefix += ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']
    return prefix


def run_confined(program: Path, args=(), timeout=120, mark=True, **spec) -> dict:
    """Run ``program`` confined.  With ``mark``, a marker is its last argument,
    and the run fails unless nothing holding it was left alive inside the
    confinement right after the run."""
    marker = f'run-{uuid.uuid4().hex}' if mark else None
    spec = {'program': str(program), 'args': [*args, *([marker] if mark else [])],
            'marker': marker, **spec}
    done = subprocess.run(
        [*_confinement_prefix(), sys.executable, '-m', 'tests.integration.confined_run',
         json.dumps(spec)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report.get('leftover', []) == [], f'processes of the run outlived it: {report}'
    return report


def test_busy_loop_is_tle_by_cpu_time(programs):
    # A generous wall limit: on a loaded machine 300 ms of CPU may take seconds.
    r = run_confined(programs['busy_loop'], limits={'time_limit': 300, 'real_time_limit': 60000})
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
    # Which limit strikes first (tasks, memory or time) depends on the load:
    # any of those verdicts is right, OK never is; nothing may be left over
    # (run_confined checks inside the confinement).
    r = run_confined(programs['fork_bomb'], limits={'time_limit': 1000})
    assert r['result_code'] in ('TLE', 'MLE', 'RE'), r
    # Bounded: the wall limit (2 x TL + 1 s), plus reaping every process of the
    # bomb, which a machine loaded with other suites and a CPU hog took seconds for.
    assert r['real_time_used'] <= 10 * (2 * 1000 + 1000), r


def test_threads_count_towards_cpu_time(programs):
    # Only the threads spin (the main thread waits): a CPU-time TLE, not the
    # wall clock's, shows their time is counted, on any load and core count.
    r = run_confined(programs['threads'], limits={'time_limit': 400, 'real_time_limit': 60000})
    assert r['result_code'] == 'TLE' and r['result_string'] == 'time limit exceeded', r
    assert r['time_used'] >= 400 and not r['real_time_killed']


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
                      '{job}/escape.txt', '/proc/sys/kernel/hostname'], mark=False)
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
    # The sentinel runs as the box's uid beside the box, inside the confinement.
    r = run_confined(programs['kill_all'], sentinel=True)
    # Alone in its PID namespace, under a uid of its own, it may signal nothing:
    # kill(-1) fails and the program says so by exiting with 1.
    assert (r['result_code'], r['result_string']) == ('RE', 'program exited with code 1'), r
    assert r['sentinel_alive'], 'a process outside the box was killed'


def test_detached_background_processes_are_killed(programs):
    r = run_confined(programs['daemonize'])  # the daemon carries the run's marker
    assert r['result_code'] == 'OK' and r['leftover'] == []


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
    r = run_confined(programs['daemonize'], executor='unprotected')
    assert r['result_code'] == 'OK' and r['leftover'] == []


# -- the supervisor out of the program's reach (issue: verdicts that cannot be forged) --

@pytest.mark.parametrize('attack', ['mem', 'fd', 'signals', 'none'])
@pytest.mark.parametrize('then, verdict', [('spin', 'TLE'), ('segv', 'RE'), ('exit3', 'RE')])
def test_the_supervisor_cannot_be_reached(programs, attack, then, verdict):
    r = run_confined(programs['attack_supervisor'], [attack, then],
                     limits={'time_limit': 1000, 'real_time_limit': 60000})
    assert 'GOT:' not in r['output'], r['output']
    assert r['result_code'] == verdict, r
    if then == 'spin':
        assert r['result_string'] == 'time limit exceeded' and r['time_used'] >= 1000
    elif then == 'segv':
        assert r['exit_signal'] == 11
    else:
        assert r['return_code'] == 3


@pytest.mark.parametrize('attack, call', [
    ('getfd', 'pidfd_getfd'), ('prlimit', 'prlimit64'), ('prlimit_cpu', 'prlimit64'),
    ('nice', 'setpriority'), ('nice_user', 'setpriority'), ('affinity', 'sched_setaffinity')])
def test_acting_on_the_supervisor_is_a_rule_violation(programs, attack, call):
    r = run_confined(programs['attack_supervisor'], [attack, 'ok'], limits={'time_limit': 1000})
    assert 'GOT:' not in r['output'], r['output']
    assert r['result_code'] == 'RV' and r['result_string'] == f'forbidden system call: {call}'


def test_cpu_of_children_the_kernel_reaps_is_counted_live(programs):
    # SIGCHLD ignored: exited children are reaped by the kernel and counted in
    # no rusage.  Their CPU (two spinners for 8 s of wall time) must stop the
    # run at the 1 s limit, long before the program would end by itself.
    r = run_confined(programs['sigchld_ignore'], limits={'time_limit': 1000,
                                                         'real_time_limit': 60000})
    assert r['result_code'] == 'TLE' and r['result_string'] == 'time limit exceeded', r
    assert r['time_used'] >= 1000 and r['real_time_used'] < 7000


@pytest.mark.parametrize('program', ['mem30_bss', 'mem30_data', 'mem30_malloc', 'mem30_stack'])
def test_memory_is_the_address_space_peak_as_sio2(programs, program):
    """The original sioworkers cases: 30 MiB (untouched) under 27 MiB is MLE,
    under 36 MiB OK, with about 30 MiB reported."""
    r = run_confined(programs[program], limits={'mem_limit': 27648})
    assert r['result_code'] == 'MLE', r
    assert r['mem_used'] > 27648
    r = run_confined(programs[program], limits={'mem_limit': 36864})
    assert r['result_code'] == 'OK', r
    assert 30720 <= r['mem_used'] <= 36864 and r['memory_mode'] == 'address-space'


def test_resident_memory_is_an_explicit_option(programs):
    r = run_confined(programs['mem30_bss'], limits={'mem_limit': 27648},
                     memory_mode='resident')
    assert r['result_code'] == 'OK' and r['memory_mode'] == 'resident', r
    assert r['mem_used'] < 27648


@pytest.mark.parametrize('how', ['whole', 'chunks'])
def test_shared_file_mappings_are_memory(programs, how):
    # 480 MiB written through MAP_SHARED mappings of files in the box, under 64 MiB.
    r = run_confined(programs['mmap_shared'], [how], limits={'mem_limit': 65536,
                                                             'time_limit': 10000})
    assert 'used 480 MiB' not in r['output']
    assert r['result_code'] == 'MLE', r


needs_box_disk = pytest.mark.skipif(os.geteuid() != 0, reason='a box gets a tmpfs of its own '
                                    'only when the worker is root (mounting needs it)')


@needs_box_disk
def test_filling_the_disk_is_a_verdict_bounded_by_memory(programs):
    r = run_confined(programs['disk_fill'], ['bytes'], limits={'mem_limit': 65536,
                                                               'time_limit': 10000})
    assert r['result_code'] == 'MLE', r  # tmpfs charged to the run, or full
    assert 'mib:1229' not in r['output']


@needs_box_disk
def test_inodes_of_a_box_are_bounded(programs):
    r = run_confined(programs['disk_fill'], ['inodes'], limits={'time_limit': 10000,
                                                                'mem_limit': 65536})
    # 300 000 files were asked for: inodes count as the run's memory (with a
    # memory cgroup), or the box's tmpfs has 4096 to give.  Either way: MLE.
    if 'files:' in r['output']:
        made = int(r['output'].split('files:')[1].split()[0])
        assert made <= (100_000 if cgroups.backend() else 4096 + 10), r['output']
    assert r['result_code'] == 'MLE', r


def test_dev_is_read_only(programs):
    r = run_confined(programs['disk_fill'], ['shm'])
    assert 'shm:refused' in r['output'], r


def test_status_line_is_parsed_strictly():
    good = ('status=exited code=0 cpu_us=5 maxrss_kib=1 vm_peak_kib=1 wall_us=1 tle=0 '
            'wall_killed=0 map_exceeded=0 execve=1\n')
    assert box.parse_status(good)['code'] == 0
    for bad in (good + good, good.replace('\n', ' error=\n'), good[:-1],
                good.replace('code=0', 'code=0 code=1'), good.replace('tle=0', 'tle=x'),
                good.replace('execve=1', 'execve=1 forged=1'), 'status=ok\n',
                good.replace('status=exited', 'status=exited error=a b')):
        with pytest.raises(box.StatusError):
            box.parse_status(bad)


# -- found by an attacker's pass over the box --

@pytest.mark.parametrize('how', ['exit_thread', 'zombie_leader'])
def test_memory_hidden_behind_thread_exits_is_still_counted(programs, how):
    # exit instead of exit_group; a leader that exited first (its status has no
    # Vm* lines): the peak is read at every exit, and from a live thread.
    r = run_confined(programs['hide_memory'], [how], limits={'mem_limit': 65536,
                                                             'time_limit': 5000})
    assert r['result_code'] == 'MLE' and r['mem_used'] > 65536, r


def test_a_unix_socket_is_no_violation(programs):
    # libc makes one to ask nscd about a user (Python does at start): with a
    # memory cgroup it is made; without one it fails (no socket, no buffer).
    r = run_confined(programs['unix_socket'])
    assert r['result_code'] == 'OK', r
    assert r['output'].strip() == ('made' if cgroups.backend() else 'refused: EACCES'), r


@pytest.mark.parametrize('how', ['memfd', 'sockets'])
def test_kernel_held_memory_is_bounded(programs, how):
    # With a memory cgroup it is charged there (MLE); without one, memfds and
    # sockets are rule violations: no limit would see that memory.
    r = run_confined(programs['hide_memory'], [how], limits={'mem_limit': 65536,
                                                             'time_limit': 5000})
    assert 'stored' not in r['output']
    if cgroups.backend():
        assert r['result_code'] == 'MLE', r
    else:
        assert r['result_code'] == 'RV', r


@needs_box_disk
@pytest.mark.parametrize('how, verdict', [('sparse', 'MLE'), ('links', 'OK'), ('deep', 'OK'),
                                          ('ok', 'OK')])
def test_what_a_box_leaves_is_copied_back_within_its_budget(programs, how, verdict):
    # sparse: 40 files of 50 MiB holes (2 GB if copied as data) under 64 MiB;
    # links: 100 hard links to one 50 MiB file (copied once); deep: a tree
    # whose host path is too long for one string; ok: a file, a hard link and
    # a symlink to /etc/shadow, which stays behind.
    r = run_confined(programs['box_files'], [how], limits={'mem_limit': 65536},
                     keep_files=True)  # as for a compiler or a generator
    assert r['result_code'] == verdict, r
    assert r['box_bytes'] <= 64 << 20
    if how == 'ok':
        assert {'d', 'hl', 'prog'} <= set(r['box_listing']) and 'sl' not in r['box_listing']


def test_a_program_killing_the_unprotected_supervisor_leaves_nothing(programs):
    if not cgroups.backend():
        pytest.skip('without cgroups the unprotected executor cannot find what a program '
                    'detached after killing its supervisor (it is not a sandbox)')
    r = run_confined(programs['kill_supervisor'], executor='unprotected',
                     limits={'time_limit': 2000})
    assert r['leftover'] == []  # run_confined checks it too


def test_what_an_ordinary_box_writes_vanishes_with_it(programs):
    # Solutions, checkers and interactors: /box is a tmpfs of the box's own;
    # the job's files are there read-only, and nothing written comes back
    # (without a memory cgroup to count its inodes, the box uses the host's
    # tmpfs and copy-back, which never brings links).
    r = run_confined(programs['box_files'], ['ok'], limits={'mem_limit': 65536})
    assert r['result_code'] == 'OK', r
    assert r['box_listing'] == ['prog'] if cgroups.backend() else 'sl' not in r['box_listing']


def test_disk_reserved_behind_the_workers_files_is_refused(programs):
    # fallocate(FALLOC_FL_KEEP_SIZE) on stdout would reserve disk on the host
    # past the output limit, with no file size to show it.
    r = run_confined(programs['fallocate_stdout'], ['300'], limits={'output_limit': 1 << 20})
    assert 'refused' in r['output'] and r['output_size'] < 1 << 20, r
