"""A driver of its own, run by the tests as a separate process.

``python -m tests.cluster.driver_script SPEC_JSON`` joins the cluster named by
``$RAY_ADDRESS`` through ``sio_ray`` (as any driver script would), runs
``spec['jobs']`` (with a journal when ``spec['journal']`` names a directory
and ``spec['batch']`` the batch) and prints one ``SIO-TEST {json}`` line per
event: ``connected`` (the cluster's GCS address and node ids), ``result``
(index and result environ, as each arrives).  After ``spec['stop_after']``
results it ``shutdown``\\ s (``sio_ray.shutdown()``), ``cancel``\\ s the rest
(``sio_ray.cancel``), ``exit``\\ s (at-exit hooks only) or ``hold``\\ s (waits
to be killed); otherwise it waits for every result.
"""

import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait

import ray

import sio_ray


def say(event: str, **fields) -> None:
    print('SIO-TEST ' + json.dumps({'event': event, **fields}), flush=True)


def main() -> None:
    spec = json.loads(sys.argv[1])
    sio_ray.connect()  # $RAY_ADDRESS: the test's cluster
    say('connected', gcs=ray.get_runtime_context().gcs_address,
        nodes=sorted(n['NodeID'] for n in ray.nodes() if n['Alive']))
    journal = sio_ray.Journal(spec['journal'], spec['batch']) if spec.get('journal') else None
    futures = sio_ray.submit_many(spec['jobs'], journal=journal)
    index = {future: i for i, future in enumerate(futures)}
    pending, reported = set(futures), 0
    stop_after = spec.get('stop_after', len(futures))
    while pending and reported < stop_after:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            say('result', index=index[future], result=future.result())
            reported += 1
    then = spec.get('then', 'wait')
    if then == 'hold':
        say('holding')
        while True:
            time.sleep(1)
    if then == 'shutdown':
        sio_ray.shutdown()
    if then == 'cancel':
        sio_ray.cancel(list(pending))
    if then in ('shutdown', 'cancel', 'wait'):
        for future in pending:
            say('result', index=index[future], result=future.result(timeout=120))
    say('done')


if __name__ == '__main__':
    main()
