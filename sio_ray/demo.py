"""``sio-ray demo``: the main job on Ray.

Starts a local Ray (or joins ``--address``) and a central filetracker server
on a free loopback port, then compiles three sample submissions with
``compile`` jobs and judges each on the sample tests with ``exec`` jobs, all
through :mod:`sio_ray` (their files come through the node cache, which the
first job starts); prints a verdict table, the node cache's counters and the
dashboard address.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sio_ray
from sio.demo.central import CentralServer
from sio.demo.samples import (EXPECTED, SUBMISSIONS, sample_compile_job, sample_exec_job,
                              upload_sample_tests)
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.results import OK
from sio_ray import nodecache


def main(address: str | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix='sio-ray-demo-') as tmp:
        tmp = Path(tmp)
        with CentralServer.start(tmp / 'filetracker') as server:
            print(f'filetracker: {server.url}')
            # A local Ray's nodes keep the demo's node cache with the demo's files.
            os.environ.setdefault('SIO_FT_CACHE_DIR', str(tmp / 'node-caches'))
            sio_ray.connect(address)
            from sio_ray.connection import dashboard_url
            print(f'Ray dashboard: {dashboard_url()}')
            client = FiletrackerClient(server.url, tmp / 'cache')
            tests = upload_sample_tests(client, tmp)
            compiles = {label: sample_compile_job(client, tmp, label, server.url)
                        for label in SUBMISSIONS}
            compiled = dict(zip(compiles, sio_ray.run_many(compiles.values())))
            jobs, keys = [], []
            for label, result in compiled.items():
                if result.get('result_code') != OK:
                    continue
                for name, (in_file, hint_file) in tests.items():
                    keys.append((label, name))
                    jobs.append(sample_exec_job(result, label, name, in_file, hint_file,
                                                server.url))
            verdicts = dict(zip(keys, sio_ray.run_many(jobs)))
            caches = nodecache.describe_all()
        ok = True
        print(f'\n{"submission":<12} {"compile":<8} ' + ' '.join(f'{"test " + n:<16}' for n in tests))
        for label, result in compiled.items():
            row = [f'{label:<12}', f'{result.get("result_code", result.get("result")):<8}']
            for name in tests:
                v = verdicts.get((label, name), {})
                row.append(f'{v.get("result_code", "-")} {v.get("time_used", "")} ms'.ljust(16))
                ok &= v.get('result_code') == EXPECTED[label]
            print(' '.join(row))
        print()
        for described in caches:
            print(nodecache.summary(described))
        print('Demo', 'succeeded.' if ok else 'FAILED.')
        return 0 if ok else 1
