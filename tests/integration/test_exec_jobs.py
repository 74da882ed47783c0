"""The exec, checker, ingen and inwer jobs end to end: every file goes through
a real filetracker server, every program runs in the real executors."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from sio.executors.checker import CheckerError, parse_percentage
from sio.workers.isolation import probe
from sio.workers.requirements import requirements
from tests.integration.conftest import job
from sio.workers.runner import run


@pytest.mark.parametrize('job_type', ['exec', 'cpu-exec', 'sio2jail-exec', 'unsafe-exec'])
def test_add_print_ok_with_the_default_comparator(ft_server, files, job_type):
    r = job(ft_server, job_type=job_type, exe_file=files('add_print'),
            in_file=files('in', '42 42\n'), hint_file=files('hint', '84\n'),
            check_output=True, exec_time_limit=1000, exec_mem_limit=65536)
    assert (r['result_code'], r['result_string'], r['result_percentage']) == ('OK', 'ok', [100, 1])
    assert r['exec_time_limit'] == 1000 and r['exec_mem_limit'] == 65536  # inputs echoed
    # OK within the limits: the values measured are within them too.
    assert 0 <= r['time_used'] <= 1000 and 0 < r['mem_used'] <= 65536
    counted = job_type == 'sio2jail-exec' and probe.capabilities().instructions
    assert r['time_measure'] == ('instructions' if counted else 'cpu')


def test_wrong_answer_message_follows_checker_format(ft_server, files):
    base = dict(job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 2\n'),
                hint_file=files('hint', '4\n'), check_output=True)
    r = job(ft_server, **base)
    assert r['result_code'] == 'WA' and r['result_percentage'] == [0, 1]
    assert r['result_string'] == 'WRONG: line 1: expected "4", got "3"'
    assert job(ft_server, checker_format='polish_terse', **base)['result_string'] == 'ŹLE'


def test_without_check_output_ok_reports_zero_percent(ft_server, files):
    r = job(ft_server, job_type='exec', exe_file=files('add_print'),
            in_file=files('in', '1 2\n'))
    assert r['result_code'] == 'OK' and r['result_percentage'] == [0, 1]


def test_non_utf8_output_gives_a_valid_text_message(ft_server, files):
    r = job(ft_server, job_type='exec', exe_file=files('output_non_utf8'),
            in_file=files('in', ''), hint_file=files('hint', '42\n'), check_output=True)
    assert r['result_code'] == 'WA'
    assert '"42"' in r['result_string'] and '<0xFF>' in r['result_string']
    r['result_string'].encode('utf-8')


@pytest.mark.parametrize('untrusted', [False, True])
def test_custom_sio_checker(ft_server, files, untrusted):
    base = dict(job_type='exec', exe_file=files('add_print'), in_file=files('in', '42 42\n'),
                check_output=True, chk_file=files('chk'), untrusted_checker=untrusted)
    r = job(ft_server, hint_file=files('hint', '84\n'), **base)
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('OK', 'well done', [42, 1])
    r = job(ft_server, hint_file=files('hint2', '85\n'), **base)
    assert (r['result_code'], r['result_string'], r['result_percentage']) == \
        ('WA', 'expected 85', [0, 1])


@pytest.mark.parametrize('text, percentage', [('42.00', [42, 1]), ('84/2', [42, 1]), ('', [100, 1])])
def test_checker_percentages(ft_server, files, text, percentage):
    r = job(ft_server, job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
            check_output=True, chk_file=files('chk_percent'),
            hint_file=files('hint', f'2\n{text}\n'))
    assert r['result_code'] == 'OK' and r['result_percentage'] == percentage


def test_checker_exit_1_is_wrong_answer_and_2_fails_the_job(ft_server, files):
    base = dict(job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
                check_output=True, chk_file=files('chk_exit'))
    assert job(ft_server, hint_file=files('h1', '1\n'), **base)['result_code'] == 'WA'
    r = run({'filetracker_url': ft_server.url, 'hint_file': files('h2', '2\n'), **base})
    assert r['result'] == 'FAILURE'
    assert 'checker (sio protocol) failed' in r['exception']
    assert 'checker trouble 2' in r['exception']  # its stderr, from the first run


def test_overlong_checker_message_is_capped(ft_server, files):
    r = job(ft_server, job_type='exec', exe_file=files('big_line'), in_file=files('in', ''),
            hint_file=files('hint', 'x\n'), check_output=True, chk_file=files('chk_long'))
    assert r['result_code'] == 'WA'
    assert len(r['result_string'].encode()) <= 1024 and r['result_string'].endswith('[...]')


def test_untrusted_checker_cannot_read_host_files(ft_server, files):
    r = job(ft_server, job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
            hint_file=files('hint', '2\n'), check_output=True, chk_file=files('chk_open_shell'),
            untrusted_checker=True)
    assert r['result_code'] == 'WA'


def _script(tmp_text: str) -> str:
    return '#!/bin/sh\n' + tmp_text


@pytest.mark.parametrize('code, verdict, percentage', [
    (0, 'OK', [100, 1]), (1, 'WA', [0, 1]), (2, 'WA', [0, 1]), (7, 'OK', [50, 1]),
    (30, 'OK', [30, 1]), (46, 'OK', [46, 1])])  # _pc(k) exits k (base 0), never 16 + k
def test_testlib_protocol(ft_server, files, code, verdict, percentage):
    chk = files('testlib.sh', _script(f'echo "points 0.5 from testlib" >&2; exit {code}\n'))
    r = job(ft_server, job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
            hint_file=files('hint', '2\n'), check_output=True, chk_file=chk,
            checker_protocol='testlib')
    assert (r['result_code'], r['result_percentage']) == (verdict, percentage)


def test_testlib_fail_is_a_checker_failure(ft_server, files):
    chk = files('testlib.sh', _script('echo "jury answer broken" >&2; exit 3\n'))
    r = run({'filetracker_url': ft_server.url, 'job_type': 'exec', 'exe_file': files('add_print'),
             'in_file': files('in', '1 1\n'), 'hint_file': files('hint', '2\n'),
             'check_output': True, 'chk_file': chk, 'checker_protocol': 'testlib'})
    assert r['result'] == 'FAILURE' and 'jury answer broken' in r['exception']


@pytest.mark.parametrize('code, verdict', [(42, 'OK'), (43, 'WA')])
def test_kattis_protocol(ft_server, files, code, verdict):
    chk = files('kattis.sh', _script(
        'read answer; test "$answer" = "$(cat "$2")" || true\n'
        f'echo "judged by kattis" > "$3/judgemessage.txt"; exit {code}\n'))
    r = job(ft_server, job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
            hint_file=files('hint', '2\n'), check_output=True, chk_file=chk,
            checker_protocol='kattis')
    assert r['result_code'] == verdict and r['result_string'] == 'judged by kattis'


def test_unknown_checker_protocol_is_named(ft_server, files):
    r = run({'filetracker_url': ft_server.url, 'job_type': 'exec', 'exe_file': files('add_print'),
             'in_file': files('in', '1 1\n'), 'hint_file': files('hint', '2\n'),
             'check_output': True, 'checker_protocol': 'icpc'})
    assert r['result'] == 'FAILURE' and "environ['checker_protocol']: 'icpc'" in r['exception']


@pytest.mark.parametrize('text, expected', [
    ('42', (42, 1)), ('42.123', (42123, 1000)), ('42/21', (2, 1)), ('42.', (42, 1)),
    ('007', (7, 1)), ('007/0042', (1, 6)), ('1e5', (100000, 1)), ('', (100, 1))])
def test_percentage_parser_accepts(text, expected):
    assert parse_percentage(text) == expected


@pytest.mark.parametrize('text', ['42 2', '42,2', '42 2 1', '42/2/1', '42/2.1', '42/', '/42', '/',
                                  '42/0', 'abc', '42/abc'])
def test_percentage_parser_rejects(text):
    with pytest.raises(CheckerError):
        parse_percentage(text)


def test_zipped_input_and_uploaded_output(ft_server, files, tmp_path):
    data = b'42 42\n1337\nsome string!\n'
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('input', data)
    out_path = f'{files.prefix}/output'
    r = job(ft_server, job_type='exec', exe_file=files('echo'),
            in_file=files('input.zip', archive.getvalue()), out_file=out_path, upload_out=True)
    assert r['result_code'] == 'OK' and re.fullmatch(re.escape(out_path) + r'@\d+', r['out_file'])
    files.client.get_file(r['out_file'], tmp_path / 'got')
    assert (tmp_path / 'got').read_bytes() == data


def test_zip_with_two_files_is_rejected(ft_server, files):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('a', '1')
        z.writestr('b', '2')
    r = run({'filetracker_url': ft_server.url, 'job_type': 'exec', 'exe_file': files('echo'),
             'in_file': files('in.zip', archive.getvalue())})
    assert r['result'] == 'FAILURE' and 'exactly one file' in r['exception']


def test_output_only_round_trip(ft_server, files):
    r = job(ft_server, job_type='exec', exe_file=files('answer.out', '84\n'),
            in_file=files('in', ''), hint_file=files('hint', '84\n'), check_output=True,
            exec_info={'mode': 'output-only'})
    assert r['result_code'] == 'OK' and r['result_percentage'] == [100, 1]


def test_extra_execution_files_are_in_the_box(ft_server, files):
    base = dict(job_type='exec', exe_file=files('extra_file'), in_file=files('in', ''))
    assert job(ft_server, **base)['result_code'] == 'RE'
    r = job(ft_server, extra_execution_files={'extra_exec_file': files('extra', 'DEADBEEF\n')},
            **base)
    assert r['result_code'] == 'OK'


@pytest.mark.parametrize('program, limits, verdict', [
    ('busy_loop', {'exec_time_limit': 200}, 'TLE'),
    ('malloc_bomb', {'exec_mem_limit': 32768}, 'MLE'),
    ('output_flood', {'exec_output_limit': 1 << 20}, 'OLE'),
    ('ptrace', {}, 'RV'),
    ('raise_signal', {}, 'RE'),
])
def test_exec_verdicts(ft_server, files, program, limits, verdict):
    r = job(ft_server, job_type='exec', exe_file=files(program), in_file=files('in', ''),
            extra_execution_args=['11'] if program == 'raise_signal' else [], **limits)
    assert r['result_code'] == verdict, r


def test_ingen_collects_matching_files(ft_server, files, tmp_path):
    r = job(ft_server, job_type='ingen', exe_file=files('ingen'), re_string=r'.*\.upload',
            collected_files_path=f'{files.prefix}/somedir', ingen_output_limit=50)
    assert r['return_code'] == 0
    assert r['stdout'] == ['Everything OK', 'Really']
    assert sorted(r['collected_files']) == ['five.five.upload', 'two.upload']
    for name, path in r['collected_files'].items():
        assert re.fullmatch(re.escape(f'{files.prefix}/somedir/{name}') + r'@\d+', path)
    files.client.get_file(r['collected_files']['two.upload'], tmp_path / 'two')
    assert (tmp_path / 'two').read_text() == '2\n'


@pytest.mark.parametrize('sandboxed', [True, False])
def test_ingen_output_is_cut_to_the_limit(ft_server, files, sandboxed):
    r = job(ft_server, job_type='ingen', exe_file=files('ingen_big'), re_string=r'.*_upload',
            collected_files_path=f'{files.prefix}/other_dir', ingen_output_limit=50,
            use_sandboxes=sandboxed)
    assert r['stdout'] == ['A' * 50]
    assert list(r['collected_files']) == ['three_upload']


@pytest.mark.parametrize('sandboxed', [True, False])
def test_inwer(ft_server, files, sandboxed):
    base = dict(job_type='inwer', inwer_output_limit=50, use_sandboxes=sandboxed)
    ok = files('inwer_ok', '10\n')
    wrong = files('inwer_wrong', '-15\n')
    r = job(ft_server, exe_file=files('inwer'), in_file=ok, **base)
    assert r['result_code'] == 'OK' and r['stdout'][0].startswith('OK')
    r = job(ft_server, exe_file=files('inwer'), in_file=wrong, **base)
    assert (r['result_code'], r['return_code']) == ('RE', 1) and r['stdout'][0] == 'WRONG'
    r = job(ft_server, exe_file=files('inwer_faulty'), in_file=ok, **base)
    assert r['result_code'] == 'OK' and not r['stdout'][0].startswith('OK')
    r = job(ft_server, exe_file=files('inwer'), in_file=ok, in_file_name='inwer_ok', **base)
    assert r['result_code'] == 'OK'
    r = job(ft_server, exe_file=files('inwer'), in_file=ok, in_file_name='inwer_wrong', **base)
    assert (r['result_code'], r['return_code']) == ('RE', 1)
    assert r['stdout'][0] == 'WRONG name'
    r = job(ft_server, exe_file=files('inwer_big_output'), in_file=ok, **base)
    if sandboxed:
        assert r['result_code'] == 'OLE'
    else:
        assert r['result_code'] == 'OK' and r['stdout'] == ['A' * 50]


def test_sandboxed_ingen_cannot_see_host_files(ft_server, files):
    r = job(ft_server, job_type='ingen', exe_file=files('ingen_nosy'), re_string='.*',
            collected_files_path=f'{files.prefix}/nosy')
    assert r['return_code'] == 139 and 'collected_files' not in r


def test_the_reservation_covers_a_checker_that_runs_after_the_program(ft_server, files):
    """The checker (100 MiB here) runs once the program has ended: the job
    reserves the larger of their memory limits, and the checker is held to its own."""
    environ = dict(job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 2\n'),
                   hint_file=files('hint', '3\n'), check_output=True, chk_file=files('chk_100mib'),
                   exec_mem_limit=32768, checker_mem_limit=131072)
    r = job(ft_server, **environ)
    assert (r['result_code'], r['result_string']) == ('OK', 'checked with 100 MiB')
    assert requirements(environ).memory_mib == 128  # the larger of 32 and 128 MiB, not the sum
    # Held to its own limit, the checker cannot take more than was reserved.
    r = run({'filetracker_url': ft_server.url, **environ, 'checker_mem_limit': 65536})
    assert r['result'] == 'FAILURE' and 'checker (sio protocol) failed' in r['exception']
