"""Hostile programs leave links, FIFOs, huge files and odd names where the worker
reads back their files: Kattis feedback, a checker's box, generated tests, the
compiled program.  Through the real jobs (real filetracker, real boxes, real
gcc), nothing of the host may appear in any result, and every job ends in
bounded time with a clear message.

Each case runs where the worker's box-file reader is the only defence: the
unprotected executor (the program runs as the worker) and the isolated one
with ``SIO_BOX_TMPFS=0`` (its box directory is host disk).  With the box's own
tmpfs (the default for a root worker) links and FIFOs are not even copied back;
those runs are checked too, for leaks only.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest

from sio.compilers import common
from sio.workers.ft import FiletrackerError
from sio.workers.runner import run
from tests.integration.conftest import job

#: How a program runs: (untrusted/sandboxed, the box's own tmpfs).
UNPROTECTED, ISOLATED_HOST_DISK, ISOLATED_TMPFS = 'unprotected', 'isolated-host-disk', \
    'isolated-tmpfs'
READER_IS_THE_DEFENCE = [UNPROTECTED, ISOLATED_HOST_DISK]


@pytest.fixture
def secret(tmp_path):
    """A file of the host, outside every box, that no result may ever show."""
    path = tmp_path / 'planted' / 'secret'
    path.parent.mkdir()
    text = f'SECRET{uuid.uuid4().hex}'
    path.write_text(text + '\n')
    (path.parent / 'judgemessage.txt').write_text(text + '\n')  # for a linked feedback dir
    return path, text


def _configure(monkeypatch, mode: str) -> bool:
    """Set the node up for ``mode``; whether the program runs isolated."""
    if mode == ISOLATED_HOST_DISK:
        monkeypatch.setenv('SIO_BOX_TMPFS', '0')
    return mode != UNPROTECTED


def _host_texts() -> list[str]:
    """Pieces of host files a leak would show: /etc/shadow's first entry, this
    process's environment."""
    texts = []
    try:
        first = Path('/etc/shadow').read_text().splitlines()[0]
        texts.append(first)
    except (OSError, IndexError):
        pass
    environ = Path('/proc/self/environ').read_bytes().split(b'\0')
    texts += [e.decode(errors='replace') for e in environ if len(e) > 12][:3]
    return texts


def _assert_nothing_leaked(result: dict, secret_text: str) -> None:
    dumped = json.dumps(result, default=str)
    assert secret_text not in dumped
    for text in _host_texts():
        assert text not in dumped, 'a host file reached the result'


# -- Kattis feedback -------------------------------------------------------------------

def _kattis(ft_server, files, command: str, untrusted: bool) -> dict:
    return run({'filetracker_url': ft_server.url, 'job_type': 'exec',
                'exe_file': files('add_print'), 'in_file': files('in', '1 1\n'),
                'hint_file': files(f'hint-{uuid.uuid4().hex}', command + '\n'),
                'check_output': True,
                'chk_file': files('kattis_hostile'), 'checker_protocol': 'kattis',
                'untrusted_checker': untrusted})


@pytest.mark.timeout(120)
@pytest.mark.parametrize('mode', READER_IS_THE_DEFENCE)
@pytest.mark.parametrize('command, target, refused', [
    ('message-link', 'SECRET', "'feedback/judgemessage.txt' is a symbolic link"),
    ('message-link', '/etc/shadow', "'feedback/judgemessage.txt' is a symbolic link"),
    ('message-link', '/proc/self/environ', "'feedback/judgemessage.txt' is a symbolic link"),
    ('message-link', '/dev/zero', "'feedback/judgemessage.txt' is a symbolic link"),
    ('score-link', 'SECRET', "'feedback/score.txt' is a symbolic link"),
    ('score-link', '/dev/zero', "'feedback/score.txt' is a symbolic link"),
    ('feedback-link', 'SECRET-DIR', "'feedback/judgemessage.txt' is not reachable: 'feedback' "
                                    'is a symbolic link'),
    ('message-fifo', '', "'feedback/judgemessage.txt' is a FIFO, not a regular file"),
    ('score-fifo', '', "'feedback/score.txt' is a FIFO, not a regular file"),
    ('sparse-score', '', "'feedback/score.txt' is larger than 256 bytes"),
])
def test_kattis_feedback_that_is_not_a_plain_file_fails_the_checker(
        ft_server, files, secret, monkeypatch, mode, command, target, refused):
    path, text = secret
    target = {'SECRET': str(path), 'SECRET-DIR': str(path.parent)}.get(target, target)
    r = _kattis(ft_server, files, f'{command} {target}', _configure(monkeypatch, mode))
    assert r['result'] == 'FAILURE', r.get('result_code')
    assert r['exception'] == f'checker (kattis protocol) failed: its feedback file {refused}'
    _assert_nothing_leaked(r, text)


@pytest.mark.timeout(120)
@pytest.mark.parametrize('command', ['message-link SECRET', 'feedback-link SECRET-DIR',
                                     'message-fifo', 'score-fifo'])
def test_kattis_feedback_tricks_in_a_box_with_its_own_disk_leak_nothing(
        ft_server, files, secret, command):
    path, text = secret
    command = command.replace('SECRET-DIR', str(path.parent)).replace('SECRET', str(path))
    r = _kattis(ft_server, files, command, untrusted=True)
    # The box's tmpfs leaves links and FIFOs behind: no feedback, or a refused one.
    assert r['result'] == 'FAILURE' or (r['result_code'], r['result_string']) == ('OK', 'ok')
    _assert_nothing_leaked(r, text)


@pytest.mark.parametrize('mode', READER_IS_THE_DEFENCE)
def test_a_huge_judgemessage_is_read_only_up_to_its_cap(ft_server, files, monkeypatch, mode):
    r = _kattis(ft_server, files, 'big-message', _configure(monkeypatch, mode))
    assert r['result'] == 'SUCCESS' and r['result_code'] == 'OK'
    assert set(r['result_string'].removesuffix('[...]')) == {'x'}
    assert len(r['result_string'].encode()) <= 1024


@pytest.mark.parametrize('untrusted', [False, True])
def test_kattis_protocol_with_score(ft_server, files, untrusted):
    r = _kattis(ft_server, files, 'ok', untrusted)
    assert (r['result'], r['result_code'], r['result_string'], r['result_percentage']) == \
        ('SUCCESS', 'OK', 'fine', [42, 1])
    r = _kattis(ft_server, files, 'wa', untrusted)
    assert (r['result_code'], r['result_percentage']) == ('WA', [0, 1])


# -- a sio checker replacing its own inputs ----------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize('mode', READER_IS_THE_DEFENCE)
def test_a_checker_replacing_its_copy_of_the_output_changes_no_uploaded_output(
        ft_server, files, secret, monkeypatch, mode, tmp_path):
    path, text = secret
    out = f'{files.prefix}/out'
    r = job(ft_server, job_type='exec', exe_file=files('add_print'), in_file=files('in', '1 1\n'),
            hint_file=files('hint', f'{path}\n'), check_output=True,
            chk_file=files('chk_replace'), untrusted_checker=_configure(monkeypatch, mode),
            out_file=out, upload_out=True)
    assert (r['result_code'], r['result_string']) == ('OK', 'replaced')
    files.client.get_file(r['out_file'], tmp_path / 'got', add_to_cache=False)
    assert (tmp_path / 'got').read_text() == '2\n'
    _assert_nothing_leaked(r, text)


# -- ingen -------------------------------------------------------------------------------

def _ingen(ft_server, files, mode_text: str, sandboxed: bool, **extra) -> dict:
    return run({'filetracker_url': ft_server.url, 'job_type': 'ingen',
                'exe_file': files('ingen_hostile'), 're_string': r't\d',
                'collected_files_path': f'{files.prefix}/gen', 'use_sandboxes': sandboxed,
                'extra_execution_files': {'mode': files('mode', mode_text + '\n')}, **extra})


@pytest.mark.timeout(120)
@pytest.mark.parametrize('mode', READER_IS_THE_DEFENCE)
@pytest.mark.parametrize('mode_text, refused', [
    ('at', "'t5.in@123', which matches re_string but cannot be collected: it contains \"@\" "
           '(a filetracker version mark)'),
    ('ctrl', "'t6\\x01.in', which matches re_string but cannot be collected: it contains a "
             'control character'),
    ('link SECRET', "'t2.in', which matches re_string but cannot be collected: it is a "
                    'symbolic link'),
    ('fifo', "'t3.in', which matches re_string but cannot be collected: it is a FIFO, not a "
             'regular file'),
])
def test_ingen_refuses_files_it_cannot_collect_safely(ft_server, files, secret, monkeypatch,
                                                       mode, mode_text, refused):
    path, text = secret
    r = _ingen(ft_server, files, mode_text.replace('SECRET', str(path)),
               _configure(monkeypatch, mode))
    assert r['result'] == 'FAILURE'
    assert r['exception'] == f'the generator wrote {refused}'
    assert 'collected_files' not in r
    _assert_nothing_leaked(r, text)
    # nothing was stored: t5.in@123 never became version 123 of gen/t5.in, t1.in not alone
    for name in ('t5.in', 't1.in', 't2.in'):
        with pytest.raises(FiletrackerError):
            files.client.remote_stat(f'{files.prefix}/gen/{name}')


@pytest.mark.timeout(120)
@pytest.mark.parametrize('mode', [*READER_IS_THE_DEFENCE, ISOLATED_TMPFS])
@pytest.mark.parametrize('mode_text, collected', [
    ('ok', ['t1.in', 't2.in']), ('dir', ['t1.in']), ('junk SECRET', ['t1.in'])])
def test_ingen_collects_regular_files_and_ignores_what_does_not_match(
        ft_server, files, secret, monkeypatch, tmp_path, mode, mode_text, collected):
    path, text = secret
    r = _ingen(ft_server, files, mode_text.replace('SECRET', str(path)),
               _configure(monkeypatch, mode))
    assert r['result'] == 'SUCCESS', r.get('exception')
    assert sorted(r['collected_files']) == collected
    for name, stored in r['collected_files'].items():
        files.client.get_file(stored, tmp_path / name, add_to_cache=False)
        assert (tmp_path / name).read_text() == f'{name[1]}\n'


@pytest.mark.timeout(120)
@pytest.mark.parametrize('mode_text', ['link SECRET', 'fifo', 'at'])
def test_ingen_tricks_in_a_box_with_its_own_disk_leak_nothing(ft_server, files, secret,
                                                              tmp_path, mode_text):
    path, text = secret
    r = _ingen(ft_server, files, mode_text.replace('SECRET', str(path)), sandboxed=True)
    _assert_nothing_leaked(r, text)
    if r['result'] == 'SUCCESS':  # links and FIFOs stayed in the box's tmpfs
        assert sorted(r['collected_files']) == ['t1.in']
    else:
        assert 'cannot be collected' in r['exception']


@pytest.mark.parametrize('limit', [1, 0])
def test_ingen_files_over_the_size_limit_fail_the_job(ft_server, files, limit):
    # A file of limit + 1 bytes is written and refused when collected; a larger
    # one stops the generator (its file size limit): either way a clear FAILURE.
    r = _ingen(ft_server, files, 'ok', sandboxed=True, ingen_file_size_limit=limit)
    assert r['result'] == 'FAILURE'
    assert r['exception'] in (
        "the generator wrote 't1.in', which matches re_string but cannot be collected: it is "
        f'larger than {limit} bytes',
        f'the generator wrote a file larger than ingen_file_size_limit ({limit} bytes)')


# -- compile -----------------------------------------------------------------------------

@pytest.mark.parametrize('mode', [ISOLATED_HOST_DISK, ISOLATED_TMPFS])
@pytest.mark.parametrize('target', ['SECRET', '/etc/shadow', '/dev/zero'])
def test_a_compiled_program_that_is_a_link_is_never_uploaded(ft_server, files, secret,
                                                             monkeypatch, mode, target):
    # gcc's -wrapper runs every pass as "sh -c 'ln -sf TARGET a.out'": the box is
    # left with a link where the program should be.
    path, text = secret
    target = str(path) if target == 'SECRET' else target
    _configure(monkeypatch, mode)
    out = f'{files.prefix}/{uuid.uuid4().hex}-exe'
    r = job(ft_server, job_type='compile', source_file=files('a.c', 'int main(void){return 0;}\n'),
            compiler='system-c', out_file=out,
            extra_compilation_args=['-wrapper', f'/usr/bin/sh,-c,ln -sf {target} a.out; exit 0'])
    assert r['result_code'] == 'CE' and r['out_file'] == out  # nothing was uploaded
    expected = "'a.out' is a symbolic link" if mode == ISOLATED_HOST_DISK else 'no program'
    assert expected in r['compiler_output'], r['compiler_output']
    _assert_nothing_leaked(r, text)


def test_an_archive_unpacking_beyond_its_cap_fails_the_compile_job(ft_server, files,
                                                                   monkeypatch):
    monkeypatch.setattr(common, 'ARCHIVE_SIZE_LIMIT', 4 << 20)  # the node's setting, made small
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w', zipfile.ZIP_DEFLATED) as z:
        with z.open('zeros.h', 'w') as member:  # 5 MiB of zeros, a few KiB zipped
            for _ in range(5):
                member.write(bytes(1 << 20))
    r = run({'filetracker_url': ft_server.url, 'job_type': 'compile',
             'source_file': files('a.c', 'int main(void){return 0;}\n'), 'compiler': 'system-c',
             'out_file': f'{files.prefix}/exe',
             'additional_archive': files('bomb.zip', archive.getvalue())})
    assert r['result'] == 'FAILURE'
    assert r['exception'] == ("environ['additional_archive']: unpacks to more than "
                              f'{4 << 20} bytes')


def test_generated_files_may_be_larger_than_the_executors_output_limit(ft_server, files):
    # 60 MiB under the default ingen_file_size_limit (1 GiB): the executors'
    # 50 MiB output limit must not become the generator's file size limit.
    r = run({'filetracker_url': ft_server.url, 'job_type': 'ingen',
             'exe_file': files('ingen_big_file'), 're_string': r'.*\.upload',
             'collected_files_path': f'{files.prefix}/big', 'use_sandboxes': True})
    assert r['result'] == 'SUCCESS', r.get('exception')
    assert r['return_code'] == 0 and list(r['collected_files']) == ['t1.upload'], r
