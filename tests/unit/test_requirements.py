"""What jobs need from a node: declared by each job (sio.workers.requirements hooks)."""

import re
import tomllib
from pathlib import Path

import pytest

from sio.workers import requirements as core
from sio.workers.requirements import Requirements, requirements

REPO = Path(__file__).resolve().parents[2]
JAVA = {'exec_info': {'mode': 'java', 'main_class': 'A', 'preferred_filename': 'A.jar'}}


@pytest.mark.parametrize('environ, memory', [
    ({'job_type': 'ping'}, 1),
    ({'job_type': 'ping', 'ping_mem_limit': 2048}, 2),
    ({'job_type': 'ft-check'}, 1),
    ({'job_type': 'exec'}, 64),
    ({'job_type': 'unsafe-exec'}, 64),
    ({'job_type': 'sio2jail-exec', 'exec_mem_limit': 131072}, 128),
    ({'job_type': 'exec', 'check_output': True}, 256),
    ({'job_type': 'exec', 'exec_mem_limit': 1048576, 'check_output': True}, 1024),
    ({'job_type': 'exec', 'check_output': True, 'checker_mem_limit': 32768}, 64),
    ({'job_type': 'compile'}, 512),
    # The compile job reads compilation_mem_limit; upstream's scheduler read compile_mem_limit.
    ({'job_type': 'compile', 'compilation_mem_limit': 262144, 'compile_mem_limit': 1}, 256),
    ({'job_type': 'ingen'}, 256),
    ({'job_type': 'inwer', 'inwer_mem_limit': 65536}, 64),
    # A job type without a hook: <job_type>_mem_limit, else 256 MiB (upstream's default).
    ({'job_type': 'something-else'}, 256),
    ({'job_type': 'something-else', 'something-else_mem_limit': 4096}, 4),
])
def test_memory_keeps_upstream_rules_where_jobs_add_nothing(environ, memory):
    assert requirements(environ).memory_mib == memory


@pytest.mark.parametrize('environ, memory', [
    # A JVM's 256 MiB runtime allowance is part of the solution's box.
    ({'job_type': 'exec', 'exec_mem_limit': 65536, **JAVA}, 64 + 256),
    ({'job_type': 'unsafe-exec', **JAVA}, 64 + 256),
    # The checker runs after the program: the larger of the two, not the sum.
    ({'job_type': 'exec', 'exec_mem_limit': 65536, 'check_output': True, **JAVA}, 320),
    ({'job_type': 'exec', 'exec_mem_limit': 32768, 'check_output': True, 'chk_file': '/chk',
      'checker_mem_limit': 131072}, 128),
    # Interactive: every solution process and the interactor (256 MiB) at once.
    ({'job_type': 'interactive-exec', 'exec_mem_limit': 10240}, 10 + 256),
    ({'job_type': 'interactive-exec', 'exec_mem_limit': 65536, 'num_processes': 3},
     3 * 64 + 256),
    ({'job_type': 'cpu-interactive-exec', 'exec_mem_limit': 65536, 'num_processes': 3,
      'interactor_mem_limit': 32768}, 3 * 64 + 32),
    ({'job_type': 'sio2jail-interactive-exec', 'exec_mem_limit': 65536, 'num_processes': 2,
      **JAVA}, 2 * 320 + 256),
    ({'job_type': 'unsafe-interactive-exec', 'exec_time_limit': 1000}, 64 + 256),
])
def test_memory_covers_what_the_job_runs(environ, memory):
    assert requirements(environ).memory_mib == memory


@pytest.mark.parametrize('environ, isolated, exclusive', [
    ({'job_type': 'ping'}, False, False),
    ({'job_type': 'exec'}, True, False),
    ({'job_type': 'cpu-exec'}, True, True),
    ({'job_type': 'cpu-interactive-exec'}, True, True),
    ({'job_type': 'interactive-exec'}, True, False),
    ({'job_type': 'unsafe-interactive-exec'}, False, False),
    ({'job_type': 'sio2jail-exec'}, True, False),
    ({'job_type': 'unsafe-exec'}, False, False),
    ({'job_type': 'unsafe-exec', 'check_output': True, 'chk_file': '/c',
      'untrusted_checker': True}, True, False),
    # Without a checker program, nothing runs in a box.
    ({'job_type': 'unsafe-exec', 'check_output': True, 'untrusted_checker': True}, False, False),
    ({'job_type': 'compile'}, True, False),
    ({'job_type': 'ingen'}, True, False),
    ({'job_type': 'ingen', 'use_sandboxes': False}, False, False),
    ({'job_type': 'inwer', 'use_sandboxes': True}, True, False),
    ({'job_type': 'something-else'}, False, False),
])
def test_isolation_and_exclusivity(environ, isolated, exclusive):
    req = requirements(environ)
    assert (req.isolated, req.exclusive) == (isolated, exclusive)


def test_interactive_jobs_count_the_interactor_and_every_solution_process():
    assert requirements({'job_type': 'interactive-exec'}).cpus == 2
    assert requirements({'job_type': 'interactive-exec', 'num_processes': 3}).cpus == 4
    assert requirements({'job_type': 'exec'}).cpus == 1


@pytest.mark.parametrize('key, value', [('exec_mem_limit', '64M'), ('exec_mem_limit', -1),
                                        ('checker_mem_limit', True),
                                        ('interactor_mem_limit', 'lots')])
def test_bad_limits_name_the_key(key, value):
    environ = {'job_type': 'interactive-exec' if 'interactor' in key else 'exec',
               'check_output': True, key: value}
    with pytest.raises(ValueError, match=rf"environ\['{key}'\]: .* is not a non-negative"):
        requirements(environ)


@pytest.mark.parametrize('value', ['two', 0, 33, True])
def test_a_bad_process_count_is_named_as_the_job_names_it(value):
    with pytest.raises(ValueError, match=r"environ\['num_processes'\]: .* is not a number from "
                                         r'1 to 32'):
        requirements({'job_type': 'interactive-exec', 'num_processes': value})


def test_a_plugin_declares_the_needs_of_its_job_type():
    # sio-test-plugin registers a sio.workers.requirements hook for 'test-echo'.
    req = requirements({'job_type': 'test-echo', 'echo_mib': 12.5})
    assert req == Requirements(isolated=True, exclusive=False, memory_mib=12.5, cpus=1.0)


def test_every_job_of_the_project_declares_its_requirements_beside_its_entry():
    project = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']['entry-points']
    jobs, hooks = project['sio.jobs'], project['sio.workers.requirements']
    assert set(hooks) == set(jobs)
    for name, hook in hooks.items():
        # The hook lives in the job's own module (ping and ft-check, which run
        # no program, share the core's hook for such jobs).
        job_module = jobs[name].split(':')[0]
        assert hook.split(':')[0] in (job_module, 'sio.workers.requirements'), name


def test_the_core_names_no_job_type_and_no_job_key():
    source = Path(core.__file__).read_text()
    # Docstrings and comments may give examples; the code must not know them.
    code = re.sub(r'#.*', '', re.sub(r'""".*?"""', '', source, flags=re.S))
    for name in ('compile', 'ingen', 'inwer', 'cpu-exec', 'interactive', 'check_output',
                 'untrusted_checker', 'num_processes', 'compilation_mem_limit', 'exec_mem_limit',
                 'checker_mem_limit', "'ping'", 'ft-check', "'exec'"):
        assert name not in code, name
