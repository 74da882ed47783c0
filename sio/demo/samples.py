"""The sample problem of the demos: three submissions, two tests, their expected verdicts."""

from __future__ import annotations

from pathlib import Path

from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.results import OK, TLE, WA

__all__ = ['SAMPLE', 'SUBMISSIONS', 'TESTS', 'EXPECTED', 'upload_sample_tests',
           'sample_compile_job', 'sample_exec_job']

SAMPLE = b'3 4\n' * 1000

SUBMISSIONS = {
    'correct': '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b);'
               ' printf("%ld\\n", a + b); return 0; }\n',
    'wrong': '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b);'
             ' printf("%ld\\n", a - b); return 0; }\n',
    'too slow': 'int main(void) { volatile unsigned long i = 0; for (;;) i++; }\n',
}
TESTS = {'1': ('2 3\n', '5\n'), '2': ('40 2\n', '42\n')}
EXPECTED = {'correct': OK, 'wrong': WA, 'too slow': TLE}


def upload_sample_tests(client: FiletrackerClient, tmp: Path) -> dict[str, tuple[str, str]]:
    """Upload the sample tests; ``{test name: (in_file, hint_file)}``."""
    tests = {}
    for name, (given, expected) in TESTS.items():
        (tmp / 'test').write_text(given)
        (tmp / 'hint').write_text(expected)
        tests[name] = (client.put_file(f'/demo/tests/{name}.in', tmp / 'test', to_local_store=False),
                       client.put_file(f'/demo/tests/{name}.out', tmp / 'hint', to_local_store=False))
    return tests


def sample_compile_job(client: FiletrackerClient, tmp: Path, label: str, url: str) -> dict:
    """The ``compile`` environ of sample submission ``label`` (its source uploaded)."""
    slug = label.replace(' ', '_')
    (tmp / 'sub.c').write_text(SUBMISSIONS[label])
    return {'job_type': 'compile', 'job_id': f'compile-{slug}', 'compiler': 'system-gcc',
            'source_file': client.put_file(f'/demo/{slug}.c', tmp / 'sub.c', to_local_store=False),
            'out_file': f'/demo/{slug}.e', 'filetracker_url': url, 'task_priority': 200}


def sample_exec_job(compiled: dict, label: str, test: str, in_file: str, hint_file: str,
                    url: str) -> dict:
    """The ``exec`` environ judging a compiled sample submission on one test."""
    return {'job_type': 'exec', 'job_id': f'{label}-{test}'.replace(' ', '_'),
            'exe_file': compiled['out_file'], 'exec_info': compiled['exec_info'],
            'in_file': in_file, 'hint_file': hint_file, 'check_output': True,
            'exec_time_limit': 500, 'exec_mem_limit': 65536, 'filetracker_url': url,
            'task_priority': 100}
