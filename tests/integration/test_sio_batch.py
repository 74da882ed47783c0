import json

import pytest

from tests.conftest import parse_environ, run_sio_batch


def test_ping_prints_the_environ_between_markers_and_exits_0():
    done = run_sio_batch(environ={'job_type': 'ping', 'ping': 'e1'})
    assert done.returncode == 0, done.stderr
    result = parse_environ(done.stdout)
    assert result['pong'] == 'e1' and result['result'] == 'SUCCESS'


def test_a_failing_job_exits_1_with_exception_and_traceback():
    done = run_sio_batch(environ={'job_type': 'test-raise'})
    assert done.returncode == 1
    result = parse_environ(done.stdout)
    assert result['result'] == 'FAILURE'
    assert result['exception'] == 'unexpected trouble'
    assert 'ZeroDivisionError' in result['traceback']


def test_job_type_argument_overrides_the_environ():
    done = run_sio_batch(['ping'], environ={'job_type': 'test-raise', 'ping': 3})
    assert done.returncode == 0
    assert parse_environ(done.stdout)['pong'] == 3


def test_environ_from_file_and_from_stdin(tmp_path):
    path = tmp_path / 'job.json'
    path.write_text(json.dumps({'job_type': 'ping', 'ping': 'file'}))
    done = run_sio_batch(['--file', str(path)])
    assert parse_environ(done.stdout)['pong'] == 'file'
    done = run_sio_batch(['-', 'ping'], stdin=json.dumps({'ping': 'stdin'}))
    assert parse_environ(done.stdout)['pong'] == 'stdin'


def test_double_encoded_environ_is_accepted():
    done = run_sio_batch(environ=json.dumps(json.dumps({'job_type': 'ping', 'ping': 2})))
    assert parse_environ(done.stdout)['pong'] == 2


def test_filter_variables_are_appended():
    done = run_sio_batch(environ={'job_type': 'test-echo', 'prefilters': ['test-mark']},
                         env={'prefilters': 'test-mark test-mark', 'postfilters': 'test-mark'})
    result = parse_environ(done.stdout)
    assert result['prefilters'] == ['test-mark'] * 3
    assert result['postfilters'] == ['test-mark']
    assert result['marks'] == ['test-mark'] * 4


def test_logs_go_to_stderr_and_job_prints_do_not_reach_stdout(tmp_path):
    # A job that fails logs an error; the debug key turns on debug logging.
    done = run_sio_batch(environ={'job_type': 'test-raise', 'debug': True})
    assert 'Job test-raise failed' in done.stderr
    assert done.stdout.startswith('--- BEGIN ENVIRON ---')
    # A job that prints, from Python and from a child process: stdout holds the
    # result alone, the prints go to stderr.
    done = run_sio_batch(environ={'job_type': 'test-echo', 'echo': 1, 'print': 'NOISE-1234'})
    assert done.returncode == 0, done.stderr
    assert parse_environ(done.stdout)['echoed'] == 1
    assert done.stdout.count('NOISE-1234') == 1  # the environ's own key
    assert done.stderr.count('NOISE-1234') == 2


@pytest.mark.parametrize('args, environ, stdin, message', [
    ([], '{"job_type": ', None, 'invalid JSON'),
    ([], '[1, 2]', None, 'must be a dict, not list'),
    (['ping', 'extra'], '{"ping": 1}', None, 'expected at most one argument'),
    ([], None, None, 'no environ'),
    (['--file'], None, None, '--file needs a PATH'),
    (['--file', '/nonexistent/job.json'], None, None, 'cannot read /nonexistent/job.json'),
    (['-'], None, 'not json', 'invalid JSON'),
])
def test_unusable_input_exits_2_with_one_line_and_no_traceback(args, environ, stdin, message):
    done = run_sio_batch(args, environ=environ, stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == ''
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('sio-batch: ') and message in lines[0]
    assert 'Traceback' not in done.stderr


def test_filter_variable_with_a_non_list_filter_key_is_unusable_input():
    done = run_sio_batch(environ={'job_type': 'ping', 'prefilters': 'x'},
                         env={'prefilters': 'test-mark'})
    assert done.returncode == 2
    assert done.stderr.strip() == "sio-batch: environ['prefilters']: 'x' is not a list of filter names"


def test_a_non_list_filter_key_without_the_variable_fails_the_job():
    done = run_sio_batch(environ={'job_type': 'ping', 'ping': 1, 'prefilters': 'x'})
    assert done.returncode == 1
    assert "environ['prefilters']" in parse_environ(done.stdout)['exception']
