"""Java programs (exec_info mode 'java') in the exec jobs, upstream's Java cases included."""

import pytest

from sio.workers.requirements import requirements
from tests.integration.conftest import job


@pytest.fixture
def jar(files, java_programs):
    def put(name):
        return files(f'{name}.jar', java_programs[name].read_bytes())
    return put


def java(name, **extra):
    return {'exec_info': {'mode': 'java', 'main_class': name,
                          'preferred_filename': f'{name}.jar'}, **extra}


@pytest.mark.parametrize('job_type', ['exec', 'unsafe-exec'])
def test_add_print(ft_server, files, jar, job_type):
    r = job(ft_server, job_type=job_type, exe_file=jar('AddPrint'), in_file=files('in', '42 42\n'),
            hint_file=files('hint', '84\n'), check_output=True, exec_time_limit=10000,
            exec_mem_limit=65536, **java('AddPrint'))
    assert r['result_code'] == 'OK', r


@pytest.mark.parametrize('mem_limit', [262144, 1048576])
def test_a_java_program_runs_under_the_usual_memory_limits(ft_server, files, jar, mem_limit):
    # 256 MiB and 1 GiB, with a thread stack of the limit as upstream: the JVM
    # reserves ten times that in address space (every run mode must allow it).
    r = job(ft_server, job_type='exec', exe_file=jar('AddPrint'), in_file=files('in', '1 2\n'),
            hint_file=files('hint', '3\n'), check_output=True, exec_time_limit=10000,
            exec_mem_limit=mem_limit, **java('AddPrint'))
    assert (r['result_code'], r['result_string']) == ('OK', 'ok'), r


@pytest.mark.parametrize('job_type', ['exec', 'unsafe-exec'])
def test_heap_limits(ft_server, files, jar, job_type):
    base = dict(job_type=job_type, exe_file=jar('Heap30MiB'), in_file=files('in', ''),
                exec_time_limit=10000, **java('Heap30MiB'))
    assert job(ft_server, exec_mem_limit=36864, **base)['result_code'] == 'OK'
    r = job(ft_server, exec_mem_limit=24576, **base)
    assert r['result_code'] == 'MLE', r


def test_deep_recursion_needs_the_stack_of_the_memory_limit(ft_server, files, jar):
    base = dict(job_type='exec', exe_file=jar('DeepRecursion'), in_file=files('in', ''),
                exec_time_limit=10000, extra_execution_args=['200000'], **java('DeepRecursion'))
    assert job(ft_server, exec_mem_limit=76800, **base)['result_code'] == 'OK'
    assert job(ft_server, exec_mem_limit=4096, **base)['result_code'] == 'MLE'


def test_busy_loop_is_tle(ft_server, files, jar):
    r = job(ft_server, job_type='exec', exe_file=jar('BusyLoop'), in_file=files('in', ''),
            exec_time_limit=500, exec_mem_limit=65536, **java('BusyLoop'))
    assert r['result_code'] == 'TLE'


def test_the_reservation_covers_what_a_java_solution_really_takes(ft_server, files, jar):
    """A JVM takes more than the memory limit (its heap): what the job reserves
    on a node must cover the whole box, not the limit alone (it reserved the
    limit, so a node could be over-committed and the JVM killed by its neighbours)."""
    environ = dict(job_type='exec', exe_file=jar('Heap30MiB'), in_file=files('in', ''),
                   exec_time_limit=10000, exec_mem_limit=36864, **java('Heap30MiB'))
    r = job(ft_server, **environ)
    assert r['result_code'] == 'OK' and r['memory_mode'] == 'resident'
    assert r['mem_used'] > environ['exec_mem_limit']  # the heap and the JVM around it
    assert r['mem_used'] <= requirements(environ).memory_mib * 1024
