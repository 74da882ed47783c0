"""``sio-ray demo``: the main job on Ray.

Starts a local Ray (or joins ``--address``) and a central filetracker server
on a free loopback port, then compiles three sample submissions with
``compile`` jobs and judges each on the sample tests with ``exec`` jobs, all
through :mod:`sio_ray`; prints a verdict table and the dashboard address.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import sio_ray
from sio.workers.demo import EXPECTED, SUBMISSIONS, TESTS
from sio.workers.ftclient import FiletrackerClient
from sio.workers.ftserver import CentralServer


def main(address: str | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix='sio-ray-demo-') as tmp:
        tmp = Path(tmp)
        with CentralServer.start(tmp / 'filetracker') as server:
            print(f'filetracker: {server.url}')
            sio_ray.connect(address)
            from sio_ray.cli import dashboard_url
            print(f'Ray dashboard: {dashboard_url()}')
            client = FiletrackerClient(server.url, tmp / 'cache')
            tests = {}
            for name, (given, expected) in TESTS.items():
                (tmp / 'in').write_text(given)
                (tmp / 'out').write_text(expected)
                tests[name] = (client.put_file(f'/demo/{name}.in', tmp / 'in', to_local_store=False),
                               client.put_file(f'/demo/{name}.out', tmp / 'out',
                                               to_local_store=False))
            compiles = {}
            for label, source in SUBMISSIONS.items():
                (tmp / 'src.c').write_text(source)
                slug = label.replace(' ', '_')
                compiles[label] = {
                    'job_type': 'compile', 'job_id': f'compile-{slug}', 'compiler': 'system-gcc',
                    'source_file': client.put_file(f'/demo/{slug}.c', tmp / 'src.c',
                                                   to_local_store=False),
                    'out_file': f'/demo/{slug}.e', 'filetracker_url': server.url,
                    'task_priority': 200}
            compiled = dict(zip(compiles, sio_ray.run_many(compiles.values())))
            jobs, keys = [], []
            for label, result in compiled.items():
                if result.get('result_code') != 'OK':
                    continue
                for name, (in_file, hint_file) in tests.items():
                    keys.append((label, name))
                    jobs.append({'job_type': 'exec', 'job_id': f'{label}-{name}'.replace(' ', '_'),
                                 'exe_file': result['out_file'], 'exec_info': result['exec_info'],
                                 'in_file': in_file, 'hint_file': hint_file, 'check_output': True,
                                 'exec_time_limit': 500, 'exec_mem_limit': 65536,
                                 'filetracker_url': server.url, 'task_priority': 100})
            verdicts = dict(zip(keys, sio_ray.run_many(jobs)))
        ok = True
        print(f'\n{"submission":<12} {"compile":<8} ' + ' '.join(f'{"test " + n:<16}' for n in tests))
        for label, result in compiled.items():
            row = [f'{label:<12}', f'{result.get("result_code", result.get("result")):<8}']
            for name in tests:
                v = verdicts.get((label, name), {})
                row.append(f'{v.get("result_code", "-")} {v.get("time_used", "")} ms'.ljust(16))
                ok &= v.get('result_code') == EXPECTED[label]
            print(' '.join(row))
        print('\nDemo', 'succeeded.' if ok else 'FAILED.')
        return 0 if ok else 1
