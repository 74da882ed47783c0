"""testlib checkers through the exec job: compiled C++ checkers that end exactly as
testlib's ``quitf``/``quitp`` do (tests/programs/testlib_quit.cpp), built plainly and
with ``-DTESTSYS``, trusted and in the isolated executor (``untrusted_checker``)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from sio.workers.runner import run

SOURCE = Path(__file__).parents[1] / 'programs' / 'testlib_quit.cpp'
BUILDS = {'plain': [], 'testsys': ['-DTESTSYS'], 'eof': ['-DENABLE_UNEXPECTED_EOF']}


@pytest.fixture(scope='module')
def testlib_checkers(tmp_path_factory) -> dict[str, bytes]:
    """The checker built each way (static, so the box needs no libraries)."""
    out = tmp_path_factory.mktemp('testlib')
    built = {}
    for name, flags in BUILDS.items():
        subprocess.run(['g++', '-O1', '-static', *flags, '-o', str(out / name), str(SOURCE)],
                       check=True, capture_output=True)
        built[name] = (out / name).read_bytes()
    return built


def _judge(ft_server, files, checker: bytes, command: str, untrusted: bool, **extra) -> dict:
    tag = uuid.uuid4().hex
    return run({'filetracker_url': ft_server.url, 'job_type': 'exec',
                'exe_file': files('add_print'), 'in_file': files('in', '1 1\n'),
                'hint_file': files(f'hint-{tag}', command + '\n'), 'check_output': True,
                'chk_file': files(f'chk-{tag}', checker), 'checker_protocol': 'testlib',
                'untrusted_checker': untrusted, **extra})


VERDICTS = [
    ('ok', 'OK', [100, 1], 'ok 1 number'),
    ('wa', 'WA', [0, 1], 'wrong answer expected 2, found 3'),
    ('pe', 'WA', [0, 1], 'wrong output format expected a number'),
    ('dirt', 'WA', [0, 1], 'wrong output format Extra information in the output file'),
    ('eof', 'WA', [0, 1], 'wrong output format Unexpected end of file - int32 expected'),
    ('points 0.25', 'OK', [25, 1], 'points 0.25 for the first subtask'),
    ('pc 30', 'OK', [30, 1], 'partially correct (30) some of it'),
    ('pc 100', 'OK', [100, 1], 'partially correct (100) some of it'),
    # With base 0 these exit 0, 1, 3 and 7 -- the codes of OK, WA, FAIL and points:
    # testlib's message tells them apart, and so does the job.
    ('pc 0', 'OK', [0, 1], 'partially correct (0) some of it'),
    ('pc 1', 'OK', [1, 1], 'partially correct (1) some of it'),
    ('pc 3', 'OK', [3, 1], 'partially correct (3) some of it'),
    ('pc 7', 'OK', [7, 1], 'partially correct (7) some of it'),
    # testlib's line is the last of standard error; other lines may come before it.
    ('noisy-pc 30', 'OK', [30, 1], 'debug: read 12 numbers, 3 pairs\n'
                                   'partially correct (30) some of it'),
    ('noisy-pc 1', 'OK', [1, 1], 'debug: read 12 numbers, 3 pairs\n'
                                 'partially correct (1) some of it'),
    ('noisy-points 0.5', 'OK', [50, 1], 'debug: read 12 numbers, 3 pairs\n'
                                        'points 0.5 for the first subtask'),
]


@pytest.mark.parametrize('untrusted', [True, False])
@pytest.mark.parametrize('build, base', [('plain', None), ('testsys', 50)])  # None: the default, 0
@pytest.mark.parametrize('command, code, percentage, message', VERDICTS)
def test_testlib_verdicts(ft_server, files, testlib_checkers, untrusted, build, base, command,
                          code, percentage, message):
    extra = {} if base is None else {'checker_testlib_pc_base': base}
    r = _judge(ft_server, files, testlib_checkers[build], command, untrusted, **extra)
    assert r['result'] == 'SUCCESS', r.get('exception')
    assert (r['result_code'], r['result_percentage'], r['result_string']) == \
        (code, percentage, message)


@pytest.mark.parametrize('untrusted', [True, False])
def test_unexpected_eof_exits_8_and_is_a_wrong_answer(ft_server, files, testlib_checkers,
                                                      untrusted):
    r = _judge(ft_server, files, testlib_checkers['eof'], 'eof', untrusted)
    assert (r['result_code'], r['result_string']) == \
        ('WA', 'unexpected eof Unexpected end of file - int32 expected')


@pytest.mark.parametrize('untrusted', [True, False])
@pytest.mark.parametrize('build', ['plain', 'testsys'])
def test_fail_is_a_checker_failure(ft_server, files, testlib_checkers, untrusted, build):
    r = _judge(ft_server, files, testlib_checkers[build], 'fail', untrusted,
               checker_testlib_pc_base=50 if build == 'testsys' else 0)
    assert r['result'] == 'FAILURE'
    assert 'checker (testlib protocol) failed' in r['exception']
    assert 'FAIL jury answer broken' in r['exception']


@pytest.mark.parametrize('build, base, hint', [
    ('plain', 50, 'it was built without -DTESTSYS (set checker_testlib_pc_base to 0)'),
    ('testsys', 0, 'it was built with -DTESTSYS (set checker_testlib_pc_base to 50)')])
def test_a_wrong_base_never_scores_and_says_which_is_right(ft_server, files, testlib_checkers,
                                                           build, base, hint):
    r = _judge(ft_server, files, testlib_checkers[build], 'pc 30', True,
               checker_testlib_pc_base=base)
    assert r['result'] == 'FAILURE'
    code = 80 if build == 'testsys' else 30
    assert r['exception'] == (f'testlib checker said "partially correct (30)" but exited with '
                              f'{code}, not {base + 30} (checker_testlib_pc_base is {base}): '
                              + hint)


@pytest.mark.parametrize('value', [True, -1, 156, '50', 16.0])
def test_the_base_must_be_an_exit_code_base(ft_server, files, testlib_checkers, value):
    r = _judge(ft_server, files, testlib_checkers['plain'], 'ok', False,
               checker_testlib_pc_base=value)
    assert r['result'] == 'FAILURE'
    assert r['exception'].startswith(f"environ['checker_testlib_pc_base']: {value!r} is not")
