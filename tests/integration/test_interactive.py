"""Interactive jobs end to end (real filetracker, real executors)."""

import pytest

from sio.executors import interactive
from sio.workers import ft
from sio.workers.executors import IsolatedExecutor
from sio.workers.isolation.box import BoxView
from sio.workers.requirements import requirements
from sio.workers.runner import run
from sio.workers.util import TemporaryCwd
from tests.integration.conftest import job

JOBS = ['interactive-exec', 'cpu-interactive-exec', 'sio2jail-interactive-exec',
        'unsafe-interactive-exec']


def base(files, solution, interactor='interactor', in_data='20\n', **extra):
    return {'exe_file': files(solution), 'interactor_file': files(interactor),
            'in_file': files('in', in_data), 'exec_time_limit': 1000, **extra}


@pytest.mark.parametrize('job_type', JOBS)
def test_correct_solution(ft_server, files, job_type):
    r = job(ft_server, job_type=job_type, **base(files, 'sol_double'))
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('OK', 'all 1 correct', [100, 1])
    # An OK run stayed within the limit; it ran, so it used memory.
    assert 0 <= r['time_used'] <= 1000 and r['mem_used'] > 0


def test_wrong_answer(ft_server, files):
    r = job(ft_server, job_type='interactive-exec', **base(files, 'sol_wrong'))
    assert (r['result_code'], r['result_string']) == ('WA', 'expected 40, got 41')


def test_several_processes(ft_server, files):
    r = job(ft_server, job_type='interactive-exec', num_processes=3, **base(files, 'sol_double'))
    assert (r['result_code'], r['result_string']) == ('OK', 'all 3 correct')


def test_solution_exiting_early(ft_server, files):
    r = job(ft_server, job_type='interactive-exec', **base(files, 'sol_exit_early'))
    assert (r['result_code'], r['result_string']) == ('WA', 'solution exited prematurely')


def test_hanging_solution_is_tle(ft_server, files):
    r = job(ft_server, job_type='interactive-exec',
            **base(files, 'sleep_forever', exec_time_limit=300))
    assert r['result_code'] == 'TLE'


def test_interactor_verdict_overrides_a_hanging_solution(ft_server, files):
    r = job(ft_server, job_type='interactive-exec',
            **base(files, 'sleep_forever', 'interactor_wrong_now', exec_time_limit=300))
    assert (r['result_code'], r['result_string']) == ('WA', 'no answer needed')


def test_interactor_failure_fails_the_job(ft_server, files):
    r = run({'filetracker_url': ft_server.url, 'job_type': 'interactive-exec',
             **base(files, 'sol_double', 'interactor_crash')})
    assert r['result'] == 'FAILURE' and 'interactor failed' in r['exception']


def test_missing_time_limit_and_bad_process_count_are_named(ft_server, files):
    b = base(files, 'sol_double')
    del b['exec_time_limit']
    r = run({'filetracker_url': ft_server.url, 'job_type': 'interactive-exec', **b})
    assert r['result'] == 'FAILURE' and "environ['exec_time_limit']" in r['exception']
    r = run({'filetracker_url': ft_server.url, 'job_type': 'interactive-exec',
             'num_processes': 0, **base(files, 'sol_double')})
    assert r['result'] == 'FAILURE' and "environ['num_processes']" in r['exception']


ISOLATED_JOBS = JOBS[:3]


def verdict_file(files, r, tmp_path) -> str:
    """What the interactor wrote (the job's ``out_file``)."""
    files.client.get_file(r['out_file'], tmp_path / 'verdict', add_to_cache=False)
    return (tmp_path / 'verdict').read_text()


@pytest.mark.parametrize('job_type', ISOLATED_JOBS)
@pytest.mark.parametrize('number, call', [('20', 'ptrace'), ('21', 'socket')])
def test_rule_violation_after_a_correct_answer_is_rv(ft_server, files, tmp_path, job_type,
                                                     number, call):
    # The solution answers correctly, then makes a forbidden system call: the
    # interactor says OK, and yet the verdict is RV.
    r = job(ft_server, job_type=job_type, out_file=f'{files.prefix}/verdict', upload_out=True,
            **base(files, 'sol_answer_then_misbehave', in_data=number + '\n'))
    assert verdict_file(files, r, tmp_path).startswith('OK\n')
    assert (r['result_code'], r['result_percentage']) == ('RV', [0, 1])
    assert r['result_string'] == f'forbidden system call: {call}'


def test_time_limit_after_a_correct_answer_is_judged_by_the_interactor(ft_server, files):
    # Upstream's precedence, kept: the interactor's OK decides for a solution
    # stopped after it answered (here: out of CPU time).
    r = job(ft_server, job_type='interactive-exec',
            **base(files, 'sol_answer_then_misbehave', in_data='22\n',
                   exec_time_limit=300, exec_real_time_limit=20000))
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('OK', 'all 1 correct', [100, 1])
    assert r['time_used'] >= 300 * 0.9  # it did run out of time


def test_a_solution_over_its_memory_limit_that_ended_by_itself_stays_mle(ft_server, files,
                                                                          tmp_path):
    # Its address-space peak (70 MiB under 64) is known only when it ends; it
    # was never stopped after answering, so the interactor's OK does not excuse it.
    r = job(ft_server, job_type='interactive-exec', out_file=f'{files.prefix}/verdict',
            upload_out=True, **base(files, 'sol_answer_big', in_data='21\n',
                                    exec_mem_limit=65536))
    assert verdict_file(files, r, tmp_path).startswith('OK\n')
    assert r['result_code'] == 'MLE' and r['mem_used'] > 65536, r


def test_one_violating_process_of_several_is_rv(ft_server, files):
    # Process 0 gets 22 (runs out of time), process 1 gets 23 (ptrace): the
    # violation wins over the time limit the interactor's OK would hide.
    r = job(ft_server, job_type='interactive-exec', num_processes=2,
            **base(files, 'sol_answer_then_misbehave', in_data='22\n',
                   exec_time_limit=300))
    assert (r['result_code'], r['result_string']) == ('RV', 'forbidden system call: ptrace')


def test_a_failed_solution_box_is_never_ok(ft_server, files, tmp_path):
    # The solutions' boxes fail for real (a read-only bind of a path that does
    # not exist makes bubblewrap refuse to start them: SE); the interactor, in
    # a working box, says OK without asking anything.
    environ = {'filetracker_url': ft_server.url, 'job_type': 'interactive-exec',
               **base(files, 'sol_double', 'interactor_ok_now')}
    missing = str(tmp_path / 'missing')
    with TemporaryCwd(chdir=True):
        ft.init_instance(ft_server.url)
        r = interactive.run(environ,
                            make_executor=lambda: IsolatedExecutor(view=BoxView(((missing, '/x'),))),
                            make_interactor_executor=IsolatedExecutor)
    assert r['result_code'] == 'SE' and r['result_percentage'] == [0, 1]
    assert r['result_string'].startswith('sandbox failure')


def test_a_failed_interactor_box_fails_the_job_even_after_ok(ft_server, files, tmp_path):
    environ = {'filetracker_url': ft_server.url, 'job_type': 'interactive-exec',
               **base(files, 'sol_double')}
    missing = str(tmp_path / 'missing')
    with TemporaryCwd(chdir=True):
        ft.init_instance(ft_server.url)
        with pytest.raises(interactive.InteractorError, match='interactor failed: SE'):
            interactive.run(environ, make_executor=IsolatedExecutor,
                            make_interactor_executor=lambda: IsolatedExecutor(
                                view=BoxView(((missing, '/x'),))))


def cfg(files, cpu_ms=0, sleep_ms=0, mem_mib=0, percentage='-', solution='sol_double',
        **extra):
    """A job with interactor_cfg and its knobs."""
    return base(files, solution, 'interactor_cfg',
                in_data=f'20 {cpu_ms} {sleep_ms} {mem_mib} {percentage}\n', **extra)


@pytest.mark.parametrize('percentage, expected', [('42.5', [85, 2]), ('3/4', [3, 4]),
                                                  ('-', [100, 1])])
def test_interactor_percentage_line(ft_server, files, percentage, expected):
    r = job(ft_server, job_type='interactive-exec', **cfg(files, percentage=percentage))
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('OK', 'knobs 0 0 0', expected)


def test_wrong_answer_ignores_the_percentage_line(ft_server, files):
    r = job(ft_server, job_type='interactive-exec',
            **cfg(files, percentage='42', solution='sol_wrong'))
    assert (r['result_code'], r['result_percentage']) == ('WA', [0, 1])


def test_interactor_time_limit(ft_server, files):
    # 400 ms of the interactor's CPU time: within its limit OK, beyond it TLE.
    r = job(ft_server, job_type='interactive-exec', interactor_time_limit=5000,
            **cfg(files, cpu_ms=400))
    assert r['result_code'] == 'OK'
    r = job(ft_server, job_type='interactive-exec', interactor_time_limit=100,
            **cfg(files, cpu_ms=400))
    assert r['result_code'] == 'TLE'
    assert r['result_string'].startswith('interactor time limit exceeded')


def test_interactor_real_time_limit(ft_server, files):
    r = job(ft_server, job_type='interactive-exec', **cfg(files, sleep_ms=500))
    assert r['result_code'] == 'OK'
    r = job(ft_server, job_type='interactive-exec', interactor_real_time_limit=200,
            **cfg(files, sleep_ms=500))
    assert r['result_code'] == 'TLE'
    assert r['result_string'].startswith('interactor time limit exceeded')


def test_interactor_memory_limit(ft_server, files):
    # 64 MiB: within the default 256 MiB; over a 32 MiB limit the interactor
    # fails, a system error (the jury's program), not a verdict.
    r = job(ft_server, job_type='interactive-exec', **cfg(files, mem_mib=64))
    assert r['result_code'] == 'OK'
    r = run({'filetracker_url': ft_server.url, 'job_type': 'interactive-exec',
             'interactor_mem_limit': 32768, **cfg(files, mem_mib=64)})
    assert r['result'] == 'FAILURE' and 'interactor failed: MLE' in r['exception']


def test_the_reservation_covers_every_process_and_the_interactor_at_once(ft_server, files):
    """Three solutions, each holding 40 MiB while the interactor (64 MiB)
    talks to them one by one: all of them are alive at once, and what the
    job reserves covers them together (it reserved one solution's limit)."""
    environ = dict(job_type='interactive-exec', num_processes=3, exec_mem_limit=65536,
                   **cfg(files, mem_mib=64, solution='sol_double_40mib'))
    r = job(ft_server, **environ)
    assert (r['result_code'], r['result_string']) == ('OK', 'knobs 0 0 64')
    at_once = 3 * r['mem_used'] + 64 * 1024  # KiB: the largest solution, thrice, and the interactor
    assert r['mem_used'] >= 40 * 1024 and at_once > environ['exec_mem_limit']
    assert at_once <= requirements(environ).memory_mib * 1024
