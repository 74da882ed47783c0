"""The limits of the ingen and inwer jobs (``ingen_*``, ``inwer_*``) give
verdicts, boxed and unboxed; a generator stopped by one collects nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import job

SANDBOXED = [pytest.param(True, id='sandboxed'), pytest.param(False, id='unsandboxed')]


def ingen(ft_server, files, program, **limits):
    return job(ft_server, job_type='ingen', exe_file=files(program), re_string=r'.*\.in$',
               collected_files_path=f'{files.prefix}/tests', **limits)


@pytest.mark.parametrize('sandboxed', SANDBOXED)
def test_ingen_time_limit(ft_server, files, sandboxed):
    # It wrote a test before running out of time: nothing is collected.
    # (A generous wall-clock limit: the CPU time limit is what stops it, even on a busy machine.)
    r = ingen(ft_server, files, 'ingen_slow', ingen_time_limit=200,
              ingen_real_time_limit=20000, use_sandboxes=sandboxed)
    assert (r['result_code'], r['result_string']) == ('TLE', 'time limit exceeded')
    assert r['return_code'] != 0 and 'collected_files' not in r
    assert r['stdout'][0] == 'wrote slow0.in'


@pytest.mark.parametrize('sandboxed', SANDBOXED)
def test_ingen_real_time_limit(ft_server, files, sandboxed):
    r = ingen(ft_server, files, 'sleep_forever', ingen_real_time_limit=300,
              use_sandboxes=sandboxed)
    assert (r['result_code'], r['real_time_killed']) == ('TLE', True)
    assert r['real_time_used'] >= 300 and 'collected_files' not in r


def test_ingen_memory_limit(ft_server, files):
    # 64 MiB: within the default limit it generates its test, over 32 MiB it is MLE.
    r = ingen(ft_server, files, 'use_64mib')
    assert r['result_code'] == 'OK' and list(r['collected_files']) == ['mem0.in']
    r = ingen(ft_server, files, 'use_64mib', ingen_mem_limit=32768)
    assert r['result_code'] == 'MLE' and 'collected_files' not in r


def test_unsandboxed_ingen_memory_limit_refuses_the_allocation(ft_server, files):
    # As upstream's ulimit -v: malloc fails (the program then exits 3).
    r = ingen(ft_server, files, 'use_64mib', use_sandboxes=False)
    assert r['result_code'] == 'OK' and list(r['collected_files']) == ['mem0.in']
    r = ingen(ft_server, files, 'use_64mib', ingen_mem_limit=32768, use_sandboxes=False)
    assert (r['result_code'], r['return_code']) == ('RE', 3) and 'collected_files' not in r


def test_ingen_within_generous_limits_collects(ft_server, files):
    r = job(ft_server, job_type='ingen', exe_file=files('ingen'), re_string=r'.*\.upload$',
            collected_files_path=f'{files.prefix}/t', ingen_time_limit=5000,
            ingen_mem_limit=65536)
    assert sorted(r['collected_files']) == ['five.five.upload', 'two.upload']


def inwer(ft_server, files, program, **limits):
    return job(ft_server, job_type='inwer', exe_file=files(program),
               in_file=files('in', '10\n'), **limits)


@pytest.mark.parametrize('sandboxed', SANDBOXED)
def test_inwer_time_limit(ft_server, files, sandboxed):
    r = inwer(ft_server, files, 'busy_loop', inwer_time_limit=200, inwer_real_time_limit=20000,
              use_sandboxes=sandboxed)
    assert (r['result_code'], r['result_string']) == ('TLE', 'time limit exceeded')
    assert r['time_used'] >= 200 * 0.9


@pytest.mark.parametrize('sandboxed', SANDBOXED)
def test_inwer_real_time_limit(ft_server, files, sandboxed):
    r = inwer(ft_server, files, 'sleep_forever', inwer_real_time_limit=300,
              use_sandboxes=sandboxed)
    assert (r['result_code'], r['result_string']) == ('TLE', 'real time limit exceeded')


def test_inwer_memory_limit(ft_server, files):
    r = inwer(ft_server, files, 'use_64mib')
    assert r['result_code'] == 'OK' and r['stdout'][0] == 'OK'
    r = inwer(ft_server, files, 'use_64mib', inwer_mem_limit=32768)
    assert r['result_code'] == 'MLE' and r['mem_used'] > 32768


def test_unsandboxed_inwer_memory_limit_refuses_the_allocation(ft_server, files):
    r = inwer(ft_server, files, 'use_64mib', use_sandboxes=False)
    assert r['result_code'] == 'OK' and r['stdout'][0] == 'OK'
    r = inwer(ft_server, files, 'use_64mib', inwer_mem_limit=32768, use_sandboxes=False)
    assert (r['result_code'], r['return_code']) == ('RE', 3)


def test_inwer_output_limit(ft_server, files):
    # Boxed: output beyond the limit is OLE; unboxed it is only cut.
    r = inwer(ft_server, files, 'inwer_big_output', inwer_output_limit=50)
    assert r['result_code'] == 'OLE'
    r = inwer(ft_server, files, 'inwer_big_output', inwer_output_limit=50, use_sandboxes=False)
    assert r['result_code'] == 'OK' and r['stdout'] == ['A' * 50]
    r = inwer(ft_server, files, 'inwer_big_output', inwer_output_limit=200)
    assert r['result_code'] == 'OK' and r['stdout'] == ['A' * 100, 'OK', '']
