"""Interactive jobs end to end (real filetracker, real executors)."""

import pytest

from sio.workers.runner import run
from tests.integration.conftest import job

JOBS = ['interactive-exec', 'cpu-interactive-exec', 'sio2jail-interactive-exec',
        'unsafe-interactive-exec']


def base(files, solution, interactor='interactor', **extra):
    return {'exe_file': files(solution), 'interactor_file': files(interactor),
            'in_file': files('in', '20\n'), 'exec_time_limit': 1000, **extra}


@pytest.mark.parametrize('job_type', JOBS)
def test_correct_solution(ft_server, files, job_type):
    r = job(ft_server, job_type=job_type, **base(files, 'sol_double'))
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('OK', 'all 1 correct', [100, 1])
    assert isinstance(r['time_used'], int)


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
