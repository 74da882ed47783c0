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

from sio.demo.central import CentralServer
from sio.demo.samples import (EXPECTED, SAMPLE, SUBMISSIONS, sample_compile_job,
                              sample_exec_job, upload_sample_tests)
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.results import OK, SUCCESS


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
