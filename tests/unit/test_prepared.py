"""sio_ray.prepared: one job validated and described once (no Ray needed)."""

import pytest

from sio_ray.journal import job_key
from sio_ray.prepared import prepare


def test_a_prepared_job_carries_a_private_copy_and_everything_derived_once():
    environ = {'job_type': 'cpu-exec', 'exec_mem_limit': 131072, 'job_id': 'j', 'extra': {'a': [1]}}
    job = prepare(environ, 'environs[4]', index=4)
    assert job.environ == environ and job.environ is not environ
    assert job.environ['extra'] is not environ['extra']
    assert job.exclusive and job.requirements.memory_mib == 128
    assert job.options['name'] == 'sio:cpu-exec' and job.label == 'environs[4]'
    assert job.key == job_key(4, environ) and prepare(environ).key is None
    assert job.bound.seconds > 0


@pytest.mark.parametrize('environ, message', [
    ({'job_type': 'no-such-job'}, r"environs\[2\]: environ\['job_type'\]: unknown job type "
                                  r"'no-such-job'; installed: .*\bping\b"),
    ({'ping': 1}, r"environs\[2\]: environ\['job_type'\]: None is not a job type"),
    ({'job_type': 'ping', 'ping': b'x'}, r"environs\[2\]: environ\['ping'\]: bytes"),
    ({'job_type': 'exec', 'exec_mem_limit': '64M'}, r"environs\[2\]: environ\['exec_mem_limit'\]"),
    ({'job_type': 'ping', 'contest_weight': 0}, r"environs\[2\]: environ\['contest_weight'\]"),
])
def test_bad_jobs_are_refused_naming_the_callers_label_and_the_key(environ, message):
    with pytest.raises(ValueError, match=message):
        prepare(environ, 'environs[2]')


def test_a_lone_job_is_named_by_its_key_only():
    with pytest.raises(ValueError, match=r"^environ\['job_type'\]: unknown job type 'nope'"):
        prepare({'job_type': 'nope'})
