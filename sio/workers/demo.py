"""``sio-demo``: the README's main job, end to end on this machine.

Starts a central filetracker server on a free loopback port, then runs jobs
through ``sio-batch`` exactly as a shell user would: a ``ping``, an
``ft-check`` file round trip (download through the node cache, upload back),
and the judging of three sample submissions: each compiled by the ``compile``
job and run on sample tests by ``exec`` jobs, both in the isolated executor,
printing each verdict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sio.workers.ftclient import FiletrackerClient
from sio.workers.ftserver import CentralServer
from sio.workers.results import OK, SUCCESS, TLE, WA

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


def _sio_batch(environ: dict, env: dict) -> dict:
    exe = Path(sys.executable).with_name('sio-batch')
    done = subprocess.run([str(exe)], env={**env, 'environ': json.dumps(environ)},
                          capture_output=True, text=True, timeout=120)
    out = done.stdout
    begin, end = out.find('--- BEGIN ENVIRON ---'), out.find('--- END ENVIRON ---')
    if begin < 0 or end < 0:
        raise RuntimeError(f'sio-batch printed no environ (exit {done.returncode}):\n{done.stderr}')
    return json.loads(out[begin + len('--- BEGIN ENVIRON ---'):end])


def _show(title: str, result: dict, keys: list[str]) -> bool:
    ok = result.get('result') == SUCCESS
    details = ', '.join(f'{k}={result.get(k)!r}' for k in keys)
    print(f'  {title:<28} {result.get("result")}  {details}')
    if not ok:
        print(f'    exception: {result.get("exception")}')
    return ok


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


def _judge_samples(tmp: Path, uploader: FiletrackerClient, url: str, env: dict) -> bool:
    print('Judging sample submissions (compile + exec jobs, isolated, default comparator):')
    tests = upload_sample_tests(uploader, tmp)
    ok = True
    for label in SUBMISSIONS:
        compiled = _sio_batch(sample_compile_job(uploader, tmp, label, url), env)
        if compiled.get('result_code') != OK:
            print(f'  {label:<10} compile: {compiled.get("result_code")} '
                  f'{compiled.get("compiler_output") or compiled.get("exception")}')
            ok = False
            continue
        verdicts = []
        for name, (in_file, hint_file) in tests.items():
            result = _sio_batch(sample_exec_job(compiled, label, name, in_file, hint_file, url), env)
            verdicts.append(f"test {name}: {result.get('result_code', result.get('result'))}"
                            f" {result.get('time_used', '?')} ms")
            ok &= result.get('result_code') == EXPECTED[label]
        print(f'  {label:<10} ' + ', '.join(verdicts))
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when every job gave what it should."""
    argparse.ArgumentParser(prog='sio-demo', description=__doc__).parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='sio-demo-') as tmp:
        tmp = Path(tmp)
        print('Starting a local filetracker server...')
        with CentralServer.start(tmp / 'filetracker') as server:
            print(f'  filetracker: {server.url} (store {server.directory / "store"})')
            env = {**os.environ, 'SIO_FT_CACHE_DIR': str(tmp / 'node-cache')}
            sample = tmp / 'sample.in'
            sample.write_bytes(SAMPLE)
            uploader = FiletrackerClient(server.url, tmp / 'uploader-cache')
            in_file = uploader.put_file('/demo/sample.in', sample, to_local_store=False)
            print(f'  uploaded {in_file} ({len(SAMPLE)} bytes)')

            print('Running jobs through sio-batch:')
            ok = _show('ping', _sio_batch({'job_type': 'ping', 'ping': 'hello'}, env), ['pong'])
            check = _sio_batch({'job_type': 'ft-check', 'in_file': in_file,
                                'out_file': '/demo/sample.out',
                                'filetracker_url': server.url}, env)
            ok &= _show('ft-check (file round trip)', check, ['in_size', 'out_file', 'worker'])
            if ok:
                back = tmp / 'back'
                uploader.get_file(check['out_file'], back, add_to_cache=False)
                same = (back.read_bytes() == SAMPLE
                        and check['in_sha256'] == hashlib.sha256(SAMPLE).hexdigest())
                print(f'  round trip intact: {same}')
                ok &= same
            ok &= _judge_samples(tmp, uploader, server.url, env)
        print('Demo', 'succeeded.' if ok else 'FAILED.')
        return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
