"""What Ray reserves for a job is what the job runs (real jobs on a real local Ray)."""

import ray

import sio_ray
from sio.workers.requirements import requirements
from sio_ray import placement
from tests.conftest import wait_until

MIB = 1 << 20


def test_the_memory_ray_reserves_covers_what_each_job_runs(local_ray, programs, java_programs,
                                                           tmp_path):
    """Real jobs on real Ray: the memory their tasks request (the State API's
    view, and sio_ray's own Ray options) is what the jobs run — a JVM's runtime
    beyond its heap, every interactive process and the interactor at once, the
    larger of a program and its checker, a compiler's box."""
    (tmp_path / 'empty').write_text('')
    (tmp_path / 'twenty').write_text('20\n')
    (tmp_path / 'sum').write_text('1 2\n')
    (tmp_path / 'hint').write_text('3\n')
    (tmp_path / 'a.c').write_text('int main(void) { return 0; }\n')
    local = {'use_filetracker': False}
    jobs = {
        'java': ({'job_type': 'exec', 'job_id': 'mem-java', 'exec_mem_limit': 36864,
                  'exec_time_limit': 10000, 'exe_file': str(java_programs['Heap30MiB']),
                  'in_file': str(tmp_path / 'empty'),
                  'exec_info': {'mode': 'java', 'main_class': 'Heap30MiB',
                                'preferred_filename': 'Heap30MiB.jar'}}, 36 + 256),
        'interactive': ({'job_type': 'interactive-exec', 'job_id': 'mem-interactive',
                         'num_processes': 3, 'exec_mem_limit': 65536, 'exec_time_limit': 1000,
                         'exe_file': str(programs['sol_double']),
                         'interactor_file': str(programs['interactor']),
                         'in_file': str(tmp_path / 'twenty')}, 3 * 64 + 256),
        'checker': ({'job_type': 'exec', 'job_id': 'mem-checker', 'exec_mem_limit': 32768,
                     'checker_mem_limit': 131072, 'check_output': True,
                     'exe_file': str(programs['add_print']), 'in_file': str(tmp_path / 'sum'),
                     'hint_file': str(tmp_path / 'hint'), 'chk_file': str(programs['chk'])},
                    128),
        'compile': ({'job_type': 'compile', 'job_id': 'mem-compile', 'compiler': 'system-gcc',
                     'source_file': str(tmp_path / 'a.c'), 'out_file': str(tmp_path / 'a.e'),
                     'compilation_mem_limit': 393216}, 384),
    }
    results = sio_ray.run_many([{**local, **environ} for environ, _ in jobs.values()])
    for (name, (environ, mib)), result in zip(jobs.items(), results):
        assert (result['result'], result.get('result_code')) == ('SUCCESS', 'OK'), \
            (name, result.get('exception'), result.get('result_string'))
        assert requirements(environ).memory_mib == mib, name
        assert placement.task_options(environ)['memory'] == mib * MIB, name
        task_id = result['ray_task_id']
        [task] = wait_until(lambda: requested(task_id), 60, f'{name} never showed')
        assert task.required_resources['memory'] == mib * MIB, name


def requested(task_id: str) -> list:
    """The State API's record of a task, with the resources it requested."""
    from ray.util.state import list_tasks
    return list_tasks(address=ray.get_runtime_context().gcs_address, detail=True,
                      filters=[('task_id', '=', task_id)], raise_on_missing_output=False)


def test_a_group_is_admitted_by_the_numbers_its_jobs_are_placed_by(local_ray):
    """sioworkersd's --max-task-ram check uses the same requirements as
    placement: eight interactive solutions of 256 MiB and the interactor need
    2304 MiB (counted as 256 MiB before), more than the 2048 MiB allowed."""
    from tests.cluster.conftest import no_task_submitted
    big = {'job_type': 'interactive-exec', 'num_processes': 8, 'exec_mem_limit': 262144,
           'exec_time_limit': 1000, 'job_id': 'never-run-big-interactive'}
    assert requirements(big).memory_mib == 8 * 256 + 256
    with no_task_submitted('interactive-exec'):
        finished = sio_ray.run_group({'workers_jobs': {'big': big}})
    assert finished['error']['message'] == \
        'One of the tasks requires 2304 MiB of RAM, exceeding the limit of 2048 MiB'
    assert 'workers_jobs.results' not in finished
