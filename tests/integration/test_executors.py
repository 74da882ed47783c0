"""The executor API: common parameters, results and verdicts, for both executors."""

import shutil
import subprocess
from pathlib import Path

import pytest

from sio.workers.executors import (ExecError, ExecutionResult, IsolatedExecutor,
                                   UnprotectedExecutor, cap_result_string)
from sio.workers.isolation import cgroups
from sio.workers.util import TemporaryCwd

EXECUTORS = [pytest.param(IsolatedExecutor, id='isolated'),
             pytest.param(UnprotectedExecutor, id='unprotected')]


@pytest.fixture
def box(programs):
    """A job directory with a box directory holding the test programs."""
    with TemporaryCwd() as job:
        box = Path(job, 'box')
        box.mkdir()
        for name, path in programs.items():
            shutil.copy(path, box / name)
        yield box


@pytest.fixture(scope='session')
def dynamic_add_print(tmp_path_factory):
    out = tmp_path_factory.mktemp('dyn') / 'add_print_dyn'
    subprocess.run(['gcc', '-O2', '-o', str(out), str(Path(__file__).parents[1] / 'programs'
                                                        / 'add_print.c')], check=True)
    return out


@pytest.mark.parametrize('executor', EXECUTORS)
def test_stdin_and_stdout_files(executor, box, dynamic_add_print):
    shutil.copy(dynamic_add_print, box / 'add_print_dyn')
    (box.parent / 'in').write_text('42 42\n')
    for program in ('add_print', 'add_print_dyn'):  # static, and dynamically linked
        with open(box.parent / 'in', 'rb') as stdin, open(box.parent / 'out', 'wb') as stdout:
            result = executor()([f'./{program}'], cwd=box, stdin=stdin, stdout=stdout)
        assert result.result_code == 'OK' and result.result_string == 'ok'
        assert (box.parent / 'out').read_text() == '84\n'  # stderr went nowhere
        assert result.return_code == 0 and result.mem_used > 0


@pytest.mark.parametrize('executor', EXECUTORS)
def test_capture_split_and_forward(executor, box):
    (box.parent / 'in').write_text('1 2\n')
    with open(box.parent / 'in', 'rb') as stdin:
        r = executor()(['./add_print'], cwd=box, stdin=stdin, capture_output=True)
    assert r.stdout == b'3\n'
    with open(box.parent / 'in', 'rb') as stdin:
        r = executor()(['./add_print'], cwd=box, stdin=stdin, capture_output=True,
                       forward_stderr=True, split_lines=True)
    assert sorted(r.stdout) == [b'', b'3', b'stderr']  # stdout is buffered, stderr not


@pytest.mark.parametrize('executor', EXECUTORS)
def test_errors_raise_unless_ignored(executor, box):
    with pytest.raises(ExecError, match='RE') as info:
        executor()(['./exit_code', '42'], cwd=box)
    assert info.value.result.return_code == 42
    assert executor()(['./exit_code', '42'], cwd=box, extra_ignore_errors=(42,)).return_code == 42
    r = executor()(['./exit_code', '200'], cwd=box, ignore_errors=True)
    assert (r.result_code, r.result_string, r.return_code) == \
        ('RE', 'program exited with code 200', 200)


@pytest.mark.parametrize('executor', EXECUTORS)
def test_environ_limits_override_arguments(executor, box):
    r = executor()(['./busy_loop'], cwd=box, time_limit=60000, ignore_errors=True,
                   environ={'exec_time_limit': 200, 'other_time_limit': 1}, environ_prefix='exec_')
    # Stopped by the 200 ms from the environ (by CPU time, or by the wall clock of
    # 2 x 200 ms + 1 s on a loaded machine), long before the argument's 60 s.
    assert r.result_code == 'TLE' and r.real_time_used < 60_000 // 2
    assert r.time_used >= 180 or r.real_time_killed
    with pytest.raises(ValueError, match=r"environ\['exec_mem_limit'\]: '64M' is not a non-negative"):
        executor()(['./return_zero'], cwd=box, environ={'exec_mem_limit': '64M'},
                   environ_prefix='exec_')


def test_memory_limit_gives_mle(box):
    r = IsolatedExecutor()(['./malloc_bomb'], cwd=box, mem_limit=32768, time_limit=5000,
                           ignore_errors=True)
    assert r.result_code == 'MLE', r
    assert r.mem_used > 32768 and r.memory_mode == 'address-space'
    expected = f'cgroup-{cgroups.backend()}' if cgroups.backend() else 'rlimit'
    assert r.limits_enforced_by == expected


def test_unprotected_memory_limit_is_ulimit_v(box):
    """As upstream's ``ulimit -v``: the allocation beyond the limit fails (the
    bomb exits 3 when malloc returns NULL), nothing is killed for it."""
    r = UnprotectedExecutor()(['./malloc_bomb'], cwd=box, mem_limit=32768, time_limit=5000,
                              ignore_errors=True)
    assert (r.result_code, r.return_code) == ('RE', 3), r
    assert 16384 < r.mem_used <= 32768


def test_unprotected_output_limit_only_cuts_captured_output(box):
    # big_line prints 2**20 + 1 bytes: the captured output is cut to the
    # limit, the run is not stopped (no OLE, as upstream's unsafe executor) and
    # a file gets everything.
    r = UnprotectedExecutor()(['./big_line'], cwd=box, capture_output=True, output_limit=100)
    assert (r.result_code, r.stdout) == ('OK', b'X' * 100)
    with open(box.parent / 'out', 'wb') as out:
        r = UnprotectedExecutor()(['./big_line'], cwd=box, stdout=out, output_limit=100)
    assert r.result_code == 'OK' and (box.parent / 'out').stat().st_size == (1 << 20) + 1


def test_isolated_defaults_and_wall_limit(box):
    r = IsolatedExecutor()(['./sleep_forever'], cwd=box, time_limit=100, ignore_errors=True)
    wall = 2 * 100 + 1000  # the default real-time limit: 2 x TL + 1 s
    assert r.result_code == 'TLE' and r.real_time_killed
    assert wall <= r.real_time_used < 4 * wall, r.real_time_used


def test_missing_program_is_a_clear_error(box):
    r = IsolatedExecutor()(['./nope'], cwd=box, ignore_errors=True)
    assert r.result_code == 'RE' and 'cannot execute ./nope' in r.result_string


def test_result_reads_like_a_dict_and_strings_are_capped():
    r = ExecutionResult('WA', 'x')
    assert r['result_code'] == 'WA' and r.get('missing', 5) == 5 and 'time_used' in r
    with pytest.raises(KeyError):
        r['nope']
    assert 'stdout' not in r.to_dict()
    long = cap_result_string('ż' * 2000)
    assert len(long.encode()) <= 1024 and long.endswith('[...]')
    assert cap_result_string(b'bad \xff') == 'bad \ufffd'


def test_node_capabilities_are_probed_for_real():
    from sio.workers.isolation.probe import capabilities
    caps = capabilities()
    assert caps.isolation, caps.reasons  # bubblewrap works on every machine the suite runs on
    if not caps.instructions:
        assert any(r.startswith('instruction counting:') for r in caps.reasons)


def test_instruction_mode_measures_instructions_or_says_it_fell_back(box):
    from sio.workers.isolation.probe import capabilities
    r = IsolatedExecutor(time_measure='instructions')(['./busy_loop'], cwd=box, time_limit=200,
                                                      ignore_errors=True)
    assert r.result_code == 'TLE'
    assert r.time_measure == ('instructions' if capabilities().instructions else 'cpu')


def test_instruction_limit_on_a_node_with_a_pmu(box):
    from sio.workers.isolation.probe import capabilities
    if not capabilities().instructions:
        pytest.skip('no hardware performance counters here: ' + '; '.join(capabilities().reasons))
    r = IsolatedExecutor(time_measure='instructions')(['./busy_loop'], cwd=box, time_limit=100,
                                                      real_time_limit=60000, ignore_errors=True)
    assert r.result_code == 'TLE' and r.time_measure == 'instructions' and r.time_used >= 100
    r = IsolatedExecutor(time_measure='instructions')(['./return_zero'], cwd=box)
    assert r.result_code == 'OK' and r.time_used < 5


def test_bad_time_measure_is_named():
    with pytest.raises(ValueError, match="time_measure: 'wall'"):
        IsolatedExecutor(time_measure='wall')
