"""How runs become verdicts, step by step, with made-up run results (no
servers, no boxes; CMS tests its steps with a fake sandbox the same way):
the executors' verdict(), the comparator, the three checker protocols and the
interactive verdict table."""

import os
import signal

import pytest

from sio.executors import comparator, interactive
from sio.executors.checker import (CheckerError, parse_percentage, read_kattis, read_sio,
                                   read_testlib)
from sio.executors.interactive import InteractorError, judge
from sio.workers.executors import ExecutionResult, verdict
from sio.workers.results import MLE, OK, OLE, RE, RV, SE, TLE, WA


def facts(**changes):
    base = dict(exited=True, exit_code=0, signal_number=None, time_used=100, time_limit=1000)
    return verdict(**{**base, **changes})


# -- verdict(): the first rule that matches wins ---------------------------------------

@pytest.mark.parametrize('changes, expected', [
    ({}, (OK, 'ok')),
    ({'exit_code': 3}, (RE, 'program exited with code 3')),
    ({'exited': False, 'exit_code': None, 'signal_number': signal.SIGSEGV},
     (RE, f'program exited due to signal {signal.SIGSEGV}')),
    ({'forbidden_syscall': 'socket'}, (RV, 'forbidden system call: socket')),
    ({'exited': False, 'signal_number': signal.SIGSYS},
     (RV, 'forbidden system call (foreign architecture)')),
    ({'memory_exceeded': True}, (MLE, 'memory limit exceeded')),
    ({'time_used': 1001}, (TLE, 'time limit exceeded')),
    ({'time_used': 1000}, (OK, 'ok')),  # at the limit is within it
    ({'time_limit_hit': True}, (TLE, 'time limit exceeded')),
    ({'exited': False, 'signal_number': signal.SIGXCPU}, (TLE, 'time limit exceeded')),
    ({'wall_killed': True, 'exited': False, 'signal_number': signal.SIGKILL},
     (TLE, 'real time limit exceeded')),
    ({'output_exceeded': True}, (OLE, 'output limit exceeded')),
    ({'exited': False, 'signal_number': signal.SIGXFSZ}, (OLE, 'output limit exceeded')),
    ({'time_limit': None, 'time_used': 10 ** 9}, (OK, 'ok')),
    # Precedence: a broken rule over memory over time over wall time over output over exit.
    ({'forbidden_syscall': 'ptrace', 'memory_exceeded': True}, (RV, 'forbidden system call: ptrace')),
    ({'memory_exceeded': True, 'time_used': 5000, 'exit_code': 1},
     (MLE, 'memory limit exceeded')),
    ({'time_used': 5000, 'wall_killed': True}, (TLE, 'time limit exceeded')),
    ({'wall_killed': True, 'output_exceeded': True}, (TLE, 'real time limit exceeded')),
    ({'output_exceeded': True, 'exit_code': 1}, (OLE, 'output limit exceeded')),
])
def test_verdict_from_the_facts_of_a_run(changes, expected):
    assert facts(**changes) == expected


# -- the comparator (oicompare's semantics) ------------------------------------------------

@pytest.mark.parametrize('expected, got', [
    (b'1 2\n', b'1 2\n'),
    (b'1 2', b'1 2\n\n\n'),                 # line feeds at the end are ignored
    (b'1 2\n\n', b'1 2'),
    (b'1  2\t3\r\n', b'1 2 3\n'),           # spaces, tabs, CR separate words
    (b'1\x002\v3\n', b'1 2 3\n'),           # so do NUL and VT
    (b'', b'\n\n'),
])
def test_outputs_that_match(expected, got):
    assert comparator.compare_bytes(expected, got) is None


@pytest.mark.parametrize('expected, got, line, message', [
    (b'42\n', b'43\n', 1, 'WRONG: line 1: expected "42", got "43"'),
    (b'1 2\n', b'1\n2\n', 1, 'WRONG: line 1: expected "2", got end of line'),
    (b'1\n2\n', b'1\n', 2, 'WRONG: line 2: expected "2", got end of file'),
    (b'1\n', b'1\n2\n', 2, 'WRONG: line 2: expected end of file, got "2"'),
    (b'a\n', b'\xff\n', 1, 'WRONG: line 1: expected "a", got "<0xFF>"'),
    (b'x y\n', b'x "y"\n', 1, 'WRONG: line 1: expected "y", got "<0x22>y<0x22>"'),
])
def test_the_first_mismatch_and_its_message(expected, got, line, message):
    mismatch = comparator.compare_bytes(expected, got)
    assert mismatch.line == line
    assert comparator.message(mismatch) == message


def test_message_formats():
    mismatch = comparator.compare_bytes(b'42\n', b'43\n')
    assert comparator.message(mismatch, 'english_terse') == 'WRONG'
    assert comparator.message(mismatch, 'polish_full') == \
        'ŹLE: wiersz 1: oczekiwano "42", otrzymano "43"'


def test_abbreviated_words_stay_short_around_their_first_difference():
    long_word = b'x' * 300
    got = b'x' * 150 + b'y' + b'x' * 149
    mismatch = comparator.compare_bytes(long_word + b'\n', got + b'\n')
    assert mismatch.difference == 150
    shown = comparator.message(mismatch, 'english_abbreviated')
    words = shown.split('"')[1::2]
    assert all(len(word) <= 100 for word in words) and 'y' in words[1]
    assert len(comparator.message(mismatch, 'english_full')) > 600


def test_compare_files(tmp_path):
    (tmp_path / 'hint').write_bytes(b'1 2 3\n')
    (tmp_path / 'out').write_bytes(b'1 2 3')
    (tmp_path / 'bad').write_bytes(b'1 2 4\n')
    assert comparator.compare_files(tmp_path / 'hint', tmp_path / 'out') is None
    assert comparator.compare_files(tmp_path / 'hint', tmp_path / 'bad').got == b'4'


# -- the checker protocols -----------------------------------------------------------------

def checker_run(code=0, stdout=(), result_code=None):
    """A checker's run as its executor would report it."""
    if result_code is None:
        result_code = OK if code == 0 else RE
    return ExecutionResult(result_code, 'ok' if code == 0 else f'program exited with code {code}',
                           return_code=code, stdout=[*stdout])


@pytest.mark.parametrize('text, fraction', [
    ('', (100, 1)), ('42', (42, 1)), ('42.123', (42123, 1000)), ('42/21', (2, 1)),
    ('42.', (42, 1)), ('007', (7, 1)), ('007/0042', (1, 6)), ('1e5', (100000, 1)),
    (b'50\r\n', (50, 1)),
])
def test_percentages_are_exact(text, fraction):
    assert parse_percentage(text) == fraction


@pytest.mark.parametrize('text', ['42 2', '42,2', '42 2 1', '42/2/1', '42/2.1', '42/', '/42',
                                  '/', '42/0', 'abc', '42/abc', '-5'])
def test_bad_percentages_are_checker_failures(text):
    with pytest.raises(CheckerError, match='invalid percentage'):
        parse_percentage(text)


@pytest.mark.parametrize('stdout, expected', [
    ([b'OK', b'fine', b'42.5'], (OK, 'fine', [85, 2])),
    ([b'OK'], (OK, 'kept', [100, 1])),              # no message: result_string unchanged
    ([b'OK\r', b'fine\r', b''], (OK, 'fine', [100, 1])),
    ([b'WRONG', b'no', b'77'], (WA, 'no', [0, 1])),  # a wrong answer's percentage is ignored
    ([b'', b'empty first line'], (WA, 'empty first line', [0, 1])),
    ([b' OK'], (WA, '', [0, 1])),                    # lines are not stripped
    ([], (WA, '', [0, 1])),
])
def test_sio_protocol(stdout, expected):
    environ = {'result_string': 'kept'}
    read_sio(environ, checker_run(0, stdout), '')
    assert (environ['result_code'], environ['result_string'], environ['result_percentage']) \
        == expected


def test_sio_protocol_exit_1_is_a_verdict_exit_2_a_failure():
    environ = {}
    read_sio(environ, checker_run(1, [b'WRONG', b'why']), '')
    assert environ['result_code'] == WA
    with pytest.raises(CheckerError, match=r'sio protocol.*stderr: it broke'):
        read_sio({}, checker_run(2, [b'OK']), 'it broke\n')
    with pytest.raises(CheckerError):
        read_sio({}, checker_run(0, [b'OK'], result_code=TLE), '')
    with pytest.raises(CheckerError, match='invalid percentage'):
        read_sio({}, checker_run(0, [b'OK', b'', b'lots']), '')


@pytest.mark.parametrize('code, stderr, base, expected', [
    (0, 'ok 3 numbers', 0, (OK, [100, 1])),
    (1, 'wrong answer 1st numbers differ', 0, (WA, [0, 1])),
    (2, 'wrong output format', 0, (WA, [0, 1])),
    (4, 'dirt', 0, (WA, [0, 1])),
    (8, 'unexpected eof', 0, (WA, [0, 1])),
    (7, 'points 0.25 good try', 0, (OK, [25, 1])),
    (7, 'debug line 0.9\npoints 0.5', 0, (OK, [50, 1])),   # the last quitp line counts
    (1, 'partially correct (1) close', 0, (OK, [1, 1])),   # _pc(1) exits 1 with base 0
    (55, 'partially correct (5) hmm', 50, (OK, [5, 1])),   # built with -DTESTSYS
    (60, '', 50, (OK, [10, 1])),
    (1, 'wrong', 50, (WA, [0, 1])),
])
def test_testlib_protocol(code, stderr, base, expected):
    environ = {}
    read_testlib(environ, checker_run(code), stderr, base)
    assert (environ['result_code'], environ['result_percentage']) == expected
    assert environ.get('result_string', '') == stderr.strip()  # none when OK and silent


@pytest.mark.parametrize('code, stderr, base, match', [
    (3, 'FAIL the checker gave up', 0, 'testlib protocol'),
    (5, 'partially correct (5)', 50, 'without -DTESTSYS'),
    (55, 'partially correct (5)', 0, 'with -DTESTSYS'),
    (7, 'points', 0, 'points without a number'),
    (0, 'partially correct (150)', 0, 'outside 0..100'),
    (200, '', 50, 'testlib protocol'),
])
def test_testlib_failures(code, stderr, base, match):
    with pytest.raises(CheckerError, match=match):
        read_testlib({}, checker_run(code), stderr, base)


def feedback(tmp_path, **files):
    (tmp_path / 'feedback').mkdir()
    for name, data in files.items():
        (tmp_path / 'feedback' / f'{name}.txt').write_bytes(data)
    return tmp_path


def test_kattis_protocol(tmp_path):
    box = feedback(tmp_path, judgemessage=b'well done\n', score=b'0.75\n')
    environ = {}
    read_kattis(environ, checker_run(42), '', box)
    assert (environ['result_code'], environ['result_string'], environ['result_percentage']) == \
        (OK, 'well done', [3, 4])
    environ = {}
    read_kattis(environ, checker_run(43), '', box)
    assert (environ['result_code'], environ['result_string'], environ['result_percentage']) == \
        (WA, 'well done', [0, 1])


def test_kattis_without_feedback_files(tmp_path):
    environ = {}
    read_kattis(environ, checker_run(42), '', feedback(tmp_path))
    assert (environ['result_code'], environ['result_percentage']) == (OK, [100, 1])


def test_kattis_failures(tmp_path):
    with pytest.raises(CheckerError, match='kattis protocol'):
        read_kattis({}, checker_run(1), 'crashed', feedback(tmp_path))
    box = tmp_path / 'big'
    box.mkdir()
    with pytest.raises(CheckerError, match='larger than 256 bytes'):
        read_kattis({}, checker_run(42), '', feedback(box, score=b'1' * 300))
    box = tmp_path / 'link'
    box.mkdir()
    feedback(box)
    os.symlink('/etc/passwd', box / 'feedback' / 'judgemessage.txt')
    with pytest.raises(CheckerError, match='feedback file'):
        read_kattis({}, checker_run(43), '', box)


# -- the interactive verdict table ---------------------------------------------------------

def run_result(code=OK, *, sigpipe=False, wall_killed=False, time_used=10, mem_used=100,
               by_itself=False):
    """A run's result; a TLE or MLE was stopped by the supervisor (SIGKILL)
    unless it ended ``by_itself``, measured over its limit."""
    stopped = code in (TLE, MLE) and not by_itself and not wall_killed
    signal_number = signal.SIGPIPE if sigpipe else signal.SIGKILL if stopped else None
    return ExecutionResult(code, 'ok' if code == OK else code.lower(), time_used=time_used,
                           mem_used=mem_used, exit_signal=signal_number,
                           real_time_killed=wall_killed)


@pytest.mark.parametrize('sol, inter, output, expected', [
    # The interactor's verdict decides, also over a stopped or failed solution.
    (run_result(), run_result(), b'OK\nall 1 correct\n', (OK, 'all 1 correct', [100, 1])),
    (run_result(), run_result(), b'OK\nhalf\n50\n', (OK, 'half', [50, 1])),
    (run_result(TLE), run_result(), b'OK\nanswered\n', (OK, 'answered', [100, 1])),
    (run_result(RE), run_result(), b'WRONG\nno answer\n42', (WA, 'no answer', [0, 1])),
    (run_result(MLE), run_result(TLE), b'X\n', (WA, '', [0, 1])),
    # Measured over its limit although it ended by itself: no answer excuses it.
    (run_result(MLE, by_itself=True), run_result(), b'OK\nfine\n', (MLE, 'mle', [0, 1])),
    (run_result(TLE, by_itself=True), run_result(), b'OK\nfine\n', (TLE, 'tle', [0, 1])),
    # A broken rule or a failed box of a solution always wins.
    (run_result(RV), run_result(), b'OK\nfine\n', (RV, 'rv', [0, 1])),
    (run_result(SE), run_result(), b'OK\nfine\n', (SE, 'se', [0, 1])),
    # Without a verdict from the interactor.
    (run_result(TLE), run_result(), b'', (TLE, 'tle', [0, 1])),
    (run_result(), run_result(RE, sigpipe=True), b'',
     (WA, 'solution exited prematurely', [0, 1])),
    (run_result(), run_result(TLE, wall_killed=True), b'\n',
     (TLE, "interactor time limit exceeded (user's solution or interactor can be the cause)",
      [0, 1])),
    (run_result(RE, sigpipe=True), run_result(TLE), b'',
     (TLE, "interactor time limit exceeded (user's solution or interactor can be the cause)",
      [0, 1])),
])
def test_interactive_verdicts(sol, inter, output, expected):
    environ = {}
    judge(environ, sol, inter, output)
    assert (environ['result_code'], environ['result_string'], environ['result_percentage']) \
        == expected
    assert (environ['time_used'], environ['mem_used']) == (sol.time_used, sol.mem_used)


@pytest.mark.parametrize('sol, inter, output, match', [
    (run_result(), run_result(RV), b'OK\n', 'interactor failed: RV'),
    (run_result(), run_result(SE), b'', 'interactor failed: SE'),
    (run_result(), run_result(RE), b'', 'interactor failed: RE'),
    (run_result(), run_result(), b'', 'Unexpected interactor error'),
])
def test_interactor_failures_fail_the_job(sol, inter, output, match):
    environ = {}
    with pytest.raises(InteractorError, match=match):
        judge(environ, sol, inter, output)
    if 'Unexpected' not in match:
        assert environ['result_code'] == SE


def test_interactive_percentage_must_be_valid():
    with pytest.raises(CheckerError, match='invalid percentage'):
        judge({}, run_result(), run_result(), b'OK\nfine\nlots\n')


def test_several_solution_processes_become_one_result():
    ok = [run_result(time_used=5, mem_used=300), run_result(time_used=9, mem_used=100)]
    one = interactive._aggregate(ok)
    assert (one.result_code, one.time_used, one.mem_used) == (OK, 9, 300)
    stopped = run_result(TLE)
    broke = run_result(RV)
    assert interactive._aggregate([run_result(), stopped, broke]) is broke
    assert interactive._aggregate([run_result(), stopped, run_result(RE)]) is stopped
