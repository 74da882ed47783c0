"""What a node's store holds, summarized (sio.workers.filetracker.holdings):
a bounded Bloom filter of the names held, and the inputs a job names."""

import os
import random

from sio.workers.filetracker.holdings import MAX_BYTES, Holdings, job_inputs, summarize
from sio.workers.filetracker.store import CacheStore


def test_a_summary_holds_what_the_store_holds_by_name_and_version(tmp_path):
    store = CacheStore(tmp_path)
    for name, version in (('/p/1.in', 1000), ('/p/sub/2.in', 2000)):
        tmp = store.tmp_dir(name) / '.ft-new'
        tmp.write_bytes(b'data')
        store.install(tmp, name, version)
    store.path('/p/.ft-partial').write_bytes(b'half')  # a transfer in progress
    summary = Holdings.from_dict(summarize(tmp_path).to_dict())  # as published
    for name in ('/p/1.in', '/p/1.in@1000', '/p/sub/2.in', '/p/sub/2.in@2000'):
        assert summary.holds(name), name
    assert not summary.holds('/p/1.in@999')  # another version
    assert not summary.holds('/p/.ft-partial')
    assert summary.names == 4


def test_a_summary_is_bounded_and_rarely_wrong():
    rng = random.Random(1)
    names = [f'/p{rng.randrange(10**9)}/{i}.in@1' for i in range(2000)]
    summary = Holdings.of(names)
    assert all(summary.holds(n) for n in names)  # never misses what it holds
    others = [f'/q/{i}.in@1' for i in range(20000)]
    assert sum(summary.holds(n) for n in others) / len(others) < 0.02
    huge = Holdings.of(f'/big/{i}' for i in range(200_000))
    assert len(huge.bits) <= MAX_BYTES
    assert len(Holdings.of([]).bits) > 0 and not Holdings.of([]).holds('/x')


def test_job_inputs_name_the_files_a_job_reads():
    environ = {'job_type': 'exec', 'filetracker_url': 'http://ft:1', 'in_file': '/p/1.in@5',
               'hint_file': '/p/1.out@5', 'exe_file': '/s/1.e@6', 'out_file': '/o/1.out'}
    inputs = job_inputs(environ)
    assert [(name, weight) for _, name, weight in inputs] == [
        ('/p/1.in@5', 4.0), ('/p/1.out@5', 2.0), ('/s/1.e@6', 1.0)]
    assert {url for url, _, _ in inputs} == {'http://ft:1'}
    assert job_inputs({**environ, 'use_filetracker': False}) == []
    del environ['filetracker_url']
    assert job_inputs(environ) == []
    assert job_inputs(environ, default_url='http://d:2')[0][0] == 'http://d:2'
    assert job_inputs({'in_file': os.devnull.replace('/dev/', 'rel/')}, 'http://d:2') == []
