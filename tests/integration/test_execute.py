import os
import time

import pytest

from sio.workers.execute import ExecError, execute, noquote
from sio.workers.util import TemporaryCwd, pid_alive
from tests.conftest import wait_until


def test_returns_code_and_output_and_runs_in_the_job_directory():
    with TemporaryCwd() as job:
        code, out = execute(['sh', '-c', 'pwd; echo err >&2'])
        assert code == 0 and out == (job + '\n').encode()
        code, out = execute(['sh', '-c', 'echo out; echo err >&2'], forward_stderr=True)
        assert out == b'out\nerr\n'


def test_errors_raise_unless_ignored():
    with pytest.raises(ExecError, match='program exited with code 3') as info:
        execute(['sh', '-c', 'echo partial; exit 3'])
    assert info.value.result.return_code == 3 and info.value.result.stdout == b'partial\n'
    assert execute(['sh', '-c', 'exit 3'], ignore_errors=True)[0] == 3
    assert execute(['sh', '-c', 'exit 4'], extra_ignore_errors=(4,))[0] == 4


def test_upstream_cases():
    assert execute(['echo', '2']) == (0, b'2\n')
    assert execute(['exit', '1'], ignore_errors=True)[0] == 1  # a shell builtin
    with pytest.raises(ExecError):
        execute(['exit', '1'])
    with TemporaryCwd() as job:
        execute(['mkdir', os.path.join(job, 'spam')])
        assert b'spam' in execute(['ls', job])[1]
    assert execute('kill -SEGV $$', ignore_errors=True)[0] == 139


def test_shell_pieces_and_quoting(tmp_path):
    name = "it's a file"
    (tmp_path / name).write_text('content')
    code, out = execute(['cat', name, noquote('|'), 'tr', 'a-z', 'A-Z'], cwd=tmp_path)
    assert out == b'CONTENT'
    assert execute('echo $((6*7))')[1] == b'42\n'


def test_output_limit_and_split_lines():
    assert execute(['printf', 'a\\nb\\nc'], split_lines=True)[1] == [b'a', b'b', b'c']
    assert execute(['printf', '0123456789'], output_limit=4)[1] == b'0123'


def test_real_time_limit_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / 'pid'
    started = time.monotonic()
    code, _ = execute(['sh', '-c', f'sleep 30 & echo $! > {pidfile}; wait'],
                      real_time_limit=300, ignore_errors=True)
    # Killed at its 300 ms, long before the background sleep's 30 s would end.
    assert code == 128 + 9 and time.monotonic() - started < 30 / 2
    child = int(pidfile.read_text())
    wait_until(lambda: not pid_alive(child), 30, f'the background sleep {child} is still running')


def test_leftover_background_processes_are_killed(tmp_path):
    pidfile = tmp_path / 'pid'
    execute(['sh', '-c', f'sleep 30 > /dev/null & echo $! > {pidfile}'])
    child = int(pidfile.read_text())
    wait_until(lambda: not pid_alive(child), 30, f'the background sleep {child} is still running')
