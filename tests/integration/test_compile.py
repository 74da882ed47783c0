"""The compile job end to end: real compilers in the isolated executor, files
through a real filetracker server, and what they produce run by the exec jobs."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

import pytest

from sio.workers.ftserver import CentralServer
from sio.workers.runner import run
from sio.workers.sandbox import publish_sandbox
from tests.integration.conftest import job

SOURCES = Path(__file__).parents[1] / 'programs' / 'compile'


@pytest.fixture
def src(files):
    def put(name, data=None):
        return files(name, data if data is not None else (SOURCES / name).read_bytes())
    return put


def compile_ok(ft_server, src, files, name, compiler, **extra):
    r = job(ft_server, job_type='compile', source_file=src(name), compiler=compiler,
            out_file=f'{files.prefix}/{uuid.uuid4().hex}-exe', **extra)
    assert r['result_code'] == 'OK', r['compiler_output']
    assert r['compiler_toolchain'].startswith(('host ', 'sandbox '))
    return r


def run_compiled(ft_server, files, compiled, stdin='', args=()):
    """Run what the compile job produced with the exec job; return its output."""
    out = f'{files.prefix}/{uuid.uuid4().hex}.out'
    r = job(ft_server, job_type='exec', exe_file=compiled['out_file'],
            exec_info=compiled['exec_info'], in_file=files('in', stdin), out_file=out,
            upload_out=True, exec_time_limit=10000, exec_mem_limit=262144,
            extra_execution_args=list(args))
    assert r['result_code'] == 'OK', r
    path = files.client.get_file(r['out_file'], Path(files.client.cache_dir) / 'got',
                                 add_to_cache=False)
    return (Path(files.client.cache_dir) / 'got').read_text().strip() if path else ''


@pytest.mark.parametrize('compiler', ['system-gcc', 'system-c', 'gcc4_8_2_c99', 'gcc12_2_0_c17',
                                      'default-c', 'c'])
def test_c_compilers(ft_server, src, files, compiler):
    r = compile_ok(ft_server, src, files, 'simple.c', compiler)
    assert r['exec_info'] == {'mode': 'executable'}
    assert run_compiled(ft_server, files, r) == 'Hello World from c'
    r = compile_ok(ft_server, src, files, 'libm.c', compiler)
    assert run_compiled(ft_server, files, r, args=['999.412']) == \
        '6.907167, 31.613478, 1.569796'


@pytest.mark.parametrize('compiler', ['system-g++', 'system-cpp', 'g++4_8_2_cpp11',
                                      'g++12_2_cpp20_amd64', 'g++14_2_cpp23_amd64', 'cpp',
                                      'default-cc'])
def test_cpp_compilers(ft_server, src, files, compiler):
    assert run_compiled(ft_server, files, compile_ok(ft_server, src, files, 'simple.cpp',
                                                     compiler)) == 'Hello World from cpp'
    assert run_compiled(ft_server, files, compile_ok(ft_server, src, files, 'simple.cc',
                                                     compiler)) == 'Hello World from cc'
    assert run_compiled(ft_server, files, compile_ok(ft_server, src, files, 'libstdcxx.cpp',
                                                     compiler)).split() == \
        ['3', '5', '5', '7', '9', '10']


@pytest.mark.parametrize('compiler', ['system-fpc', 'pas', 'default-pas'])
def test_pascal(ft_server, src, files, compiler):
    r = compile_ok(ft_server, src, files, 'simple.pas', compiler)
    assert run_compiled(ft_server, files, r) == 'Hello World from pas'
    r = compile_ok(ft_server, src, files, 'simple-lib.pas', compiler,
                   additional_sources=[src('pas_library.pas')])
    assert run_compiled(ft_server, files, r) == 'Hello World from pas-lib'


@pytest.mark.parametrize('compiler', ['system-java', 'java', 'default-java'])
def test_java_jar_run_by_the_exec_job(ft_server, src, files, compiler):
    r = compile_ok(ft_server, src, files, 'simple.java', compiler)
    assert r['exec_info'] == {'mode': 'java', 'main_class': 'simple',
                              'preferred_filename': 'simple.jar'}
    assert run_compiled(ft_server, files, r) == 'Hello World from java'
    r = compile_ok(ft_server, src, files, 'simple_lib.java', compiler,
                   additional_sources={'java': src('library.java')})
    assert run_compiled(ft_server, files, r) == 'Hello World from java-lib'


def test_python_program_run_by_the_exec_job(ft_server, src, files):
    r = compile_ok(ft_server, src, files, 'simple.py', 'python')
    assert r['exec_info'] == {'mode': 'python'}
    assert run_compiled(ft_server, files, r, stdin='1 2 3\n') == 'Hello World from py 6'
    r = job(ft_server, job_type='compile', source_file=src('syntax_error.py'),
            compiler='default-py', out_file=f'{files.prefix}/bad')
    assert r['result_code'] == 'CE' and 'SyntaxError' in r['compiler_output']
    assert 'exec_info' not in r


def test_default_compiler_comes_from_the_extension(ft_server, src, files):
    r = compile_ok(ft_server, src, files, 'simple.c', None)
    assert r['compiler'] == 'default-c'


@pytest.mark.parametrize('form', ['list', 'dict'])
def test_additional_includes_and_sources(ft_server, src, files, form):
    header, lib_c, lib_cpp = src('library.h'), src('library.c'), src('library.cpp')
    if form == 'list':
        c_extra = dict(additional_includes=[header], additional_sources=[lib_c])
        cpp_extra = dict(additional_includes=[header], additional_sources=[lib_cpp])
    else:
        both = dict(additional_includes={'c': header, 'cpp': header},
                    additional_sources={'c': lib_c, 'cpp': lib_cpp})
        c_extra = cpp_extra = both
    r = compile_ok(ft_server, src, files, 'simple-lib.c', 'system-c', **c_extra)
    assert run_compiled(ft_server, files, r) == 'Hello World from c-lib'
    r = compile_ok(ft_server, src, files, 'simple-lib.cpp', 'system-cpp', **cpp_extra)
    assert run_compiled(ft_server, files, r) == 'Hello World from cpp-lib'


def test_archive_never_overwrites_nor_escapes(ft_server, src, files, tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('library.h', (SOURCES / 'library.h').read_text())
        z.writestr('a.c', '')  # would overwrite the source
        z.writestr('../b.txt', 'escaped')
    r = compile_ok(ft_server, src, files, 'simple-lib.c', 'system-c',
                   additional_sources=src('library.c'),
                   additional_archive=files('lib.zip', archive.getvalue()))
    assert run_compiled(ft_server, files, r) == 'Hello World from c-lib'
    assert not list(Path('/tmp').glob('sioworkers_*/b.txt'))


def test_extra_files_and_extra_args(ft_server, src, files):
    source = src('extra.c', '#include "makra.h"\nint main(void) { return VALUE - GIVEN; }\n')
    r = job(ft_server, job_type='compile', source_file=source, compiler='system-c',
            out_file=f'{files.prefix}/extra-exe',
            extra_files={'makra.h': files('makra.h', '#define GIVEN 42\n')},
            extra_compilation_args=['-DVALUE=42'])
    assert r['result_code'] == 'OK', r['compiler_output']
    run_compiled(ft_server, files, r)  # exits 0 only if both the header and -D arrived


def test_compile_error(ft_server, src, files):
    r = job(ft_server, job_type='compile', source_file=src('compile_error.c'),
            compiler='system-gcc', out_file=f'{files.prefix}/ce')
    assert r['result_code'] == 'CE' and 'undefined_name' in r['compiler_output']
    assert r['out_file'] == f'{files.prefix}/ce' and 'exec_info' not in r


def test_host_files_never_reach_the_compiler_output(ft_server, src, files, tmp_path):
    secret = f'SECRET{uuid.uuid4().hex}'
    planted = tmp_path / 'planted.h'
    planted.write_text(f'{secret} {secret}\n')
    for name, args in [('include_shadow.c', []),
                       ('include_planted.c', [f'-DPLANTED="{planted}"'])]:
        r = job(ft_server, job_type='compile', source_file=src(name), compiler='system-gcc',
                out_file=f'{files.prefix}/x', extra_compilation_args=args)
        assert r['result_code'] == 'CE'
        assert 'No such file' in r['compiler_output'], r['compiler_output']
        assert secret not in r['compiler_output'] and 'root:' not in r['compiler_output']


NASTY_LIMITS = dict(compilation_time_limit=2000, compilation_real_time_limit=6000,
                    compilation_mem_limit=131072, compilation_output_limit=100,
                    compilation_result_size_limit=5 << 20)


@pytest.mark.parametrize('name', ['nasty-250MB-exec.cpp', 'nasty-5MiB-exec.cpp',
                                  'nasty-self-include.cpp', 'nasty-dev-random.cpp',
                                  'nasty-infinite-warnings.cpp',
                                  'nasty-templates-infinite-loop.cpp'])
def test_nasty_sources_end_in_ce_within_limits(ft_server, src, files, name):
    r = job(ft_server, job_type='compile', source_file=src(name), compiler='system-cpp',
            out_file=f'{files.prefix}/nasty', **NASTY_LIMITS)
    assert r['result_code'] == 'CE'
    assert len(r['compiler_output']) <= 100
    if name == 'nasty-5MiB-exec.cpp':
        assert 'Compiled file size limit' in r['compiler_output']


def test_compiler_output_limit(ft_server, src, files):
    base = dict(job_type='compile', source_file=src('nasty-infinite-warnings.cpp'),
                compiler='system-cpp', out_file=f'{files.prefix}/w',
                compilation_time_limit=2000, compilation_real_time_limit=6000)
    r = job(ft_server, compilation_output_limit=512000, **base)
    assert r['result_code'] == 'CE' and len(r['compiler_output']) > 5120
    r = job(ft_server, **base)
    assert r['result_code'] == 'CE' and len(r['compiler_output'].encode()) <= 5120


def test_big_static_binary_within_the_size_limit(ft_server, src, files):
    r = compile_ok(ft_server, src, files, 'extreme-4.9MB-static-exec.cpp', 'g++14_2_cpp23_amd64',
                   compilation_result_size_limit=5 << 20)
    assert run_compiled(ft_server, files, r) == '0'


def test_output_only_round_trip(ft_server, src, files):
    answer = src('answer.txt', '∀x ∃y: y > x\n'.encode())
    r = job(ft_server, job_type='compile', source_file=answer, compiler='output-only',
            out_file=f'{files.prefix}/unused')
    assert (r['result_code'], r['exec_info'], r['out_file']) == \
        ('OK', {'mode': 'output-only'}, answer)
    r = job(ft_server, job_type='exec', exe_file=r['out_file'], exec_info=r['exec_info'],
            in_file=files('in', ''), hint_file=answer, check_output=True)
    assert r['result_code'] == 'OK' and r['result_percentage'] == [100, 1]


def test_unknown_compiler_names_the_known_ones(ft_server, src, files):
    r = run({'filetracker_url': ft_server.url, 'job_type': 'compile', 'source_file': src('simple.c'),
             'compiler': 'turbo-c', 'out_file': '/x'})
    assert r['result'] == 'FAILURE'
    assert "unknown compiler 'turbo-c'" in r['exception'] and 'system-gcc' in r['exception']


def test_toolchain_from_a_published_sandbox(tmp_path, programs, monkeypatch):
    # A toolchain sandbox is unpacked root-like into the box: here a stand-in
    # "gcc" (a static program) proves that it, not the host's gcc, was run.
    fake = tmp_path / 'compiler-gcc.12_2_0' / 'usr' / 'bin'
    fake.mkdir(parents=True)
    # The box user must reach the unpacked sandbox (pytest's tmp_path is private).
    reachable = Path(tempfile.mkdtemp(prefix='sio-test-sandboxes-'))
    reachable.chmod(0o711)
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(reachable))
    (fake / 'gcc').write_bytes(programs['fake_gcc'].read_bytes())
    (fake / 'gcc').chmod(0o755)
    with CentralServer.start(tmp_path / 'ft') as server:
        publish_sandbox(tmp_path / 'compiler-gcc.12_2_0', url=server.url)
        client_src = tmp_path / 'simple.c'
        client_src.write_text('int main(void) { return 0; }\n')
        from sio.workers.ftclient import FiletrackerClient
        source = FiletrackerClient(server.url, tmp_path / 'c').put_file('/s.c', client_src)
        r = job(server, job_type='compile', source_file=source, compiler='gcc12_2_0_c17',
                out_file='/out')
    assert r['result_code'] == 'OK', r['compiler_output']
    assert r['compiler_toolchain'].startswith('sandbox compiler-gcc.12_2_0 (version ')
    assert 'fake gcc ran' in r['compiler_output']
    shutil.rmtree(reachable)


def test_sio_compile_with_local_files(tmp_path):
    (tmp_path / 'a.c').write_text((SOURCES / 'simple.c').read_text())
    done = subprocess.run([str(Path(sys.executable).with_name('sio-compile')), 'a.c', 'prog',
                           'c'], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result['compiler'] == 'default-c' and result['result_code'] == 'OK'
    out = subprocess.run([str(tmp_path / 'prog')], capture_output=True, text=True)
    assert out.stdout.strip() == 'Hello World from c'
    done = subprocess.run([str(Path(sys.executable).with_name('sio-compile')), 'a.c'],
                          capture_output=True, text=True)
    assert done.returncode == 1 and 'usage: sio-compile' in done.stderr
