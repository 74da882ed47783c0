import pytest

from sio.workers.requirements import Requirements, requirements


@pytest.mark.parametrize('environ, memory', [
    ({'job_type': 'ping'}, 1),
    ({'job_type': 'ping', 'ping_mem_limit': 2048}, 2),
    ({'job_type': 'exec'}, 64),
    ({'job_type': 'sio2jail-exec', 'exec_mem_limit': 131072}, 128),
    ({'job_type': 'exec', 'check_output': True}, 256),
    ({'job_type': 'exec', 'exec_mem_limit': 1048576, 'check_output': True}, 1024),
    ({'job_type': 'exec', 'check_output': True, 'checker_mem_limit': 32768}, 64),
    ({'job_type': 'interactive-exec', 'exec_mem_limit': 10240}, 10),
    ({'job_type': 'compile'}, 512),
    # The compile job reads compilation_mem_limit; upstream's scheduler read compile_mem_limit.
    ({'job_type': 'compile', 'compilation_mem_limit': 262144, 'compile_mem_limit': 1}, 256),
    ({'job_type': 'ingen'}, 256),
    ({'job_type': 'inwer', 'inwer_mem_limit': 65536}, 64),
    ({'job_type': 'something-else'}, 256),
])
def test_memory_follows_upstream_rules(environ, memory):
    assert requirements(environ).memory_mib == memory


@pytest.mark.parametrize('environ, isolated, exclusive', [
    ({'job_type': 'ping'}, False, False),
    ({'job_type': 'exec'}, True, False),
    ({'job_type': 'cpu-exec'}, True, True),
    ({'job_type': 'cpu-interactive-exec'}, True, True),
    ({'job_type': 'sio2jail-exec'}, True, False),
    ({'job_type': 'unsafe-exec'}, False, False),
    ({'job_type': 'unsafe-exec', 'check_output': True, 'untrusted_checker': True}, True, False),
    ({'job_type': 'compile'}, True, False),
    ({'job_type': 'ingen'}, True, False),
    ({'job_type': 'ingen', 'use_sandboxes': False}, False, False),
    ({'job_type': 'inwer', 'use_sandboxes': True}, True, False),
])
def test_isolation_and_exclusivity(environ, isolated, exclusive):
    req = requirements(environ)
    assert (req.isolated, req.exclusive) == (isolated, exclusive)


def test_interactive_jobs_count_the_interactor_and_every_solution_process():
    assert requirements({'job_type': 'interactive-exec'}).cpus == 2
    assert requirements({'job_type': 'interactive-exec', 'num_processes': 3}).cpus == 4
    assert requirements({'job_type': 'exec'}).cpus == 1


@pytest.mark.parametrize('key, value', [('exec_mem_limit', '64M'), ('exec_mem_limit', -1),
                                        ('checker_mem_limit', True), ('num_processes', 'two')])
def test_bad_limits_name_the_key(key, value):
    environ = {'job_type': 'interactive-exec' if key == 'num_processes' else 'exec',
               'check_output': True, key: value}
    with pytest.raises(ValueError, match=rf"environ\['{key}'\]: .* is not a non-negative"):
        requirements(environ)


def test_a_plugin_declares_the_needs_of_its_job_type():
    # sio-test-plugin registers a sio.workers.requirements hook for 'test-echo'.
    req = requirements({'job_type': 'test-echo', 'echo_mib': 12.5})
    assert req == Requirements(isolated=True, exclusive=False, memory_mib=12.5, cpus=1.0)
