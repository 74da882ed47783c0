"""A job's wall-clock bound, derived from its own limits (sio.workers.wallbound)."""

import pytest

from sio.workers.wallbound import job_wall_bound, own_wall_ms

MARGIN = 300


def bound(**environ):
    """The bound of one run of each program (borderline runs measured again
    are tested on their own, below)."""
    if str(environ.get('job_type', '')).endswith('exec'):
        environ.setdefault('exec_remeasure_runs', 0)
    return job_wall_bound(environ, default_s=3600, margin_s=MARGIN)


def test_a_borderline_run_measured_again_counts_in_the_bound():
    b = job_wall_bound(dict(job_type='exec', exec_time_limit=1000), default_s=3600,
                       margin_s=MARGIN)
    assert b.seconds == 3 * 3 + MARGIN  # the run and at most 2 more
    assert 'runs at most of' in b.derived_from
    b = job_wall_bound(dict(job_type='unsafe-exec', exec_time_limit=1000), default_s=3600,
                       margin_s=MARGIN)
    assert b.seconds == 2 + MARGIN  # never measured again unprotected


def test_exec_jobs_program_wall_limit_is_twice_the_time_limit_plus_a_second_in_a_box():
    b = bound(job_type='exec', exec_time_limit=1000)
    assert b.seconds == 3 + MARGIN
    assert b.derived_from == ('derived from its limits: program 3 s (2×exec_time_limit 1000 ms '
                              '+ 1 s) + margin 300 s')
    assert bound(job_type='cpu-exec', exec_time_limit=1000).seconds == 3 + MARGIN
    assert bound(job_type='sio2jail-exec', exec_time_limit=1000).seconds == 3 + MARGIN
    # The box's defaults: 30 s of CPU time, hence 61 s.
    assert bound(job_type='exec').seconds == 61 + MARGIN
    # An explicit real-time limit is the program's wall limit.
    assert bound(job_type='exec', exec_time_limit=1000, exec_real_time_limit=7000).seconds \
        == 7 + MARGIN


def test_unprotected_exec_has_no_default_time_limit():
    assert bound(job_type='unsafe-exec', exec_time_limit=1000).seconds == 2 + MARGIN
    b = bound(job_type='unsafe-exec')
    assert b.seconds == 3600 and "'unsafe-exec' job give none" in b.derived_from


def test_a_checker_runs_after_the_program():
    checked = dict(job_type='exec', exec_time_limit=1000, check_output=True, chk_file='/c')
    assert bound(**checked).seconds == 3 + 60 + MARGIN  # trusted checker: 2 × 30 s
    assert bound(**checked, untrusted_checker=True).seconds == 3 + 61 + MARGIN
    assert bound(**checked, checker_time_limit=2000).seconds == 3 + 4 + MARGIN
    assert bound(**checked, checker_real_time_limit=9000).seconds == 3 + 9 + MARGIN
    # The built-in comparator runs no program; output-only runs no solution.
    assert bound(job_type='exec', exec_time_limit=1000, check_output=True).seconds == 3 + MARGIN
    assert bound(job_type='exec', exec_info={'mode': 'output-only'}, check_output=True,
                 chk_file='/c', untrusted_checker=True).seconds == 61 + MARGIN
    # A trusted checker whose time limit is 0 has none: the default applies.
    assert bound(**checked, checker_time_limit=0).seconds == 3600


def test_interactive_jobs_run_solutions_and_interactor_at_once():
    # Solutions 2×1 s + 1 s; the interactor 2 × (2 × 1 s): the longer one.
    b = bound(job_type='interactive-exec', exec_time_limit=1000)
    assert b.seconds == 4 + MARGIN and 'run at once' in b.derived_from
    assert bound(job_type='interactive-exec', exec_time_limit=1000, num_processes=8).seconds \
        == 4 + MARGIN
    assert bound(job_type='interactive-exec', exec_time_limit=1000,
                 interactor_real_time_limit=20_000).seconds == 20 + MARGIN
    assert bound(job_type='interactive-exec', exec_time_limit=1000,
                 interactor_time_limit=500).seconds == 3 + MARGIN
    assert bound(job_type='unsafe-interactive-exec', exec_time_limit=1000).seconds == 4 + MARGIN
    assert bound(job_type='cpu-interactive-exec', exec_time_limit=5000,
                 exec_real_time_limit=30_000).seconds == 30 + MARGIN


def test_compile_ingen_inwer():
    assert bound(job_type='compile').seconds == 2 * 90 + MARGIN
    assert bound(job_type='compile', compilation_time_limit=10_000).seconds == 2 * 30 + MARGIN
    assert bound(job_type='compile', compilation_real_time_limit=5000).seconds == 10 + MARGIN
    assert bound(job_type='ingen').seconds == 1201 + MARGIN
    assert bound(job_type='ingen', use_sandboxes=False).seconds == 1200 + MARGIN
    assert bound(job_type='ingen', ingen_time_limit=1000).seconds == 3 + MARGIN
    assert bound(job_type='inwer').seconds == 601 + MARGIN
    assert bound(job_type='inwer', inwer_real_time_limit=4000).seconds == 4 + MARGIN


def test_jobs_without_programs_get_the_margin_and_plugins_the_default():
    assert bound(job_type='ping').seconds == MARGIN
    assert bound(job_type='ft-check').seconds == MARGIN
    assert own_wall_ms({'job_type': 'test-sleep'}) is None
    assert bound(job_type='test-sleep').seconds == 3600


def test_the_environ_can_set_the_bound_itself():
    b = bound(job_type='exec', exec_time_limit=1000, job_real_time_limit=2500)
    assert b.seconds == 2.5
    assert b.message() == ("the job ran past its wall-clock bound of 2.5 s set by "
                           "environ['job_real_time_limit'] (2500 ms)")
    assert bound(job_type='test-sleep', job_real_time_limit=4000).seconds == 4


@pytest.mark.parametrize('value', [0, -5, '10', True, [1]])
def test_a_bad_bound_is_refused_naming_the_key(value):
    with pytest.raises(ValueError, match=r"environ\['job_real_time_limit'\]"):
        bound(job_type='ping', job_real_time_limit=value)


@pytest.mark.parametrize('key', ['exec_time_limit', 'exec_real_time_limit',
                                 'checker_time_limit', 'interactor_real_time_limit'])
def test_a_bad_limit_is_refused_naming_the_key(key):
    with pytest.raises(ValueError, match=rf"environ\['{key}'\]: '1s'"):
        environ = {'job_type': 'exec' if 'interactor' not in key else 'interactive-exec',
                   'exec_time_limit': 1000, 'check_output': True, 'chk_file': '/c', key: '1s'}
        bound(**environ)


def test_the_executors_apply_the_same_wall_clock_rule():
    from sio.workers.executors import (BOX_DEFAULT_LIMITS, IsolatedExecutor, Limits,
                                       UnprotectedExecutor, default_real_time_limit)
    tl = Limits(time_limit=1000)
    assert IsolatedExecutor()._default_real_time_limit(tl) == default_real_time_limit(1000, True) \
        == 3000
    assert UnprotectedExecutor()._default_real_time_limit(tl) \
        == default_real_time_limit(1000, False) == 2000
    assert IsolatedExecutor.default_limits == BOX_DEFAULT_LIMITS
    assert UnprotectedExecutor.default_limits.time_limit is None


@pytest.mark.parametrize('module, attribute, environ, seconds', [
    ('sio.executors.checker', 'LIMITS',
     {'job_type': 'exec', 'exec_time_limit': 1000, 'check_output': True, 'chk_file': '/c'},
     3 + 2 * 7),
    ('sio.compilers.common', 'LIMITS', {'job_type': 'compile'}, 2 * 3 * 7),
    ('sio.executors.ingen', 'LIMITS', {'job_type': 'ingen'}, 2 * 7 + 1),
    ('sio.executors.inwer', 'LIMITS', {'job_type': 'inwer', 'use_sandboxes': False}, 2 * 7),
])
def test_the_bound_reads_each_jobs_own_limits_table(monkeypatch, module, attribute, environ,
                                                    seconds):
    """One home for each job's defaults: change the job's table, the bound follows."""
    import importlib
    job = importlib.import_module(module)
    table = getattr(job, attribute)
    monkeypatch.setattr(job, attribute, table.__class__(7000, table.real_time_limit,
                                                        table.mem_limit, table.output_limit))
    assert bound(**environ).seconds == seconds + MARGIN


def test_the_java_compiler_runs_at_most_the_passes_the_bound_allows():
    from sio.compilers.common import MAX_PASSES
    from sio.compilers.java import JavaCompiler

    class Toolchain:
        def resolve(self, tool):
            return tool
    passes = JavaCompiler.__new__(JavaCompiler).steps(Toolchain(), 'a.java', [], [])
    assert len(passes) <= MAX_PASSES
