"""The limits each job hands its boxes, against what it declares it needs
(no servers, no boxes: fake executors record what they are asked to run)."""

import os

import pytest

from sio.executors import batch, checker, interactive
from sio.workers.executors import BOX_DEFAULT_LIMITS, ExecutionResult
from sio.workers.requirements import requirements
from sio.workers.util import TemporaryCwd

JAVA = {'mode': 'java', 'main_class': 'A', 'preferred_filename': 'A.jar'}


class FakeExecutor:
    """Records every run's limits; the interactor's writes its verdict."""

    isolated = True
    default_limits = BOX_DEFAULT_LIMITS
    runs: list[dict] = []

    def __call__(self, command, **kwargs):
        assert 'environ' not in kwargs and 'environ_prefix' not in kwargs, \
            'limits are resolved once, by the job'
        FakeExecutor.runs.append({'command': list(command), **kwargs})
        if command[0] == './soc':
            os.write(kwargs['stdout'].fileno(), b'OK\nfine\n')
        for fd in kwargs.get('fds_to_close', ()):
            os.close(fd)
        return ExecutionResult(return_code=0)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    FakeExecutor.runs = []
    monkeypatch.setattr(checker, 'UnprotectedExecutor', FakeExecutor)
    monkeypatch.setattr(checker, 'IsolatedExecutor', FakeExecutor)
    for name, data in {'exe': b'', 'in': b'1\n', 'hint': b'1\n', 'chk': b'', 'soc': b''}.items():
        (tmp_path / name).write_bytes(data)
    with TemporaryCwd(chdir=True):
        yield FakeExecutor.runs


def files(tmp_path, **environ):
    return {'use_filetracker': False, 'exe_file': str(tmp_path / 'exe'),
            'in_file': str(tmp_path / 'in'), 'hint_file': str(tmp_path / 'hint'), **environ}


def reserved_kib(environ):
    return requirements(environ).memory_mib * 1024


@pytest.mark.parametrize('environ', [
    {'job_type': 'exec'},
    {'job_type': 'exec', 'exec_mem_limit': 32768, 'exec_info': JAVA},
    {'job_type': 'exec', 'exec_mem_limit': 32768, 'check_output': True, 'chk_file': 'chk',
     'checker_mem_limit': 131072},
    {'job_type': 'exec', 'exec_mem_limit': 524288, 'check_output': True, 'chk_file': 'chk',
     'exec_info': JAVA},
])
def test_an_exec_job_reserves_the_largest_of_its_runs(tmp_path, runs, environ):
    environ = files(tmp_path, **environ)
    if 'chk_file' in environ:
        environ['chk_file'] = str(tmp_path / 'chk')
    batch.run(environ, FakeExecutor())
    memory = [run['mem_limit'] for run in runs]
    assert len(memory) == (2 if 'chk_file' in environ else 1)  # the program, then its checker
    assert max(memory) == reserved_kib(environ)  # one after the other: the largest


@pytest.mark.parametrize('extra', [
    {'num_processes': 3, 'exec_mem_limit': 65536},
    {'num_processes': 2, 'exec_mem_limit': 65536, 'interactor_mem_limit': 32768,
     'exec_info': JAVA},
    {},
])
def test_an_interactive_job_reserves_all_its_runs_at_once(tmp_path, runs, extra):
    environ = files(tmp_path, job_type='interactive-exec', exec_time_limit=1000,
                    interactor_file=str(tmp_path / 'soc'), **extra)
    interactive.run(environ, FakeExecutor)
    assert (environ['result_code'], environ['result_string']) == ('OK', 'fine')
    assert len(runs) == extra.get('num_processes', 1) + 1
    assert sum(run['mem_limit'] for run in runs) == reserved_kib(environ)  # all at once


def test_the_interactor_gets_its_limits_from_its_table_and_the_environ(tmp_path, runs):
    environ = files(tmp_path, job_type='interactive-exec', exec_time_limit=1000,
                    interactor_file=str(tmp_path / 'soc'), interactor_output_limit=77)
    interactive.run(environ, FakeExecutor)
    [inter] = [run for run in runs if run['command'][0] == './soc']
    assert (inter['time_limit'], inter['real_time_limit'], inter['mem_limit'],
            inter['output_limit']) == (2000, 4000, 256 << 10, 77)
