"""The compile job end to end: real compilers in the isolated executor, files
through a real filetracker server, and what they produce run by the exec jobs."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

import pytest

from sio.demo.central import CentralServer
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
    # Members that would land outside the job: a path climbing out of it (to
    # this test's directory) and an absolute one.  The worker unpacks on the
    # host, so a missing check would leave them there for the test to see.
    climbing = tmp_path / 'climbed.txt'
    absolute = tmp_path / 'absolute.txt'
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('library.h', (SOURCES / 'library.h').read_text())
        z.writestr('a.c', 'this would break the source')  # would overwrite the source
        z.writestr('../' * 40 + str(climbing).lstrip('/'), 'escaped')
        z.writestr(str(absolute), 'escaped')
    r = compile_ok(ft_server, src, files, 'simple-lib.c', 'system-c',
                   additional_sources=src('library.c'),
                   additional_archive=files('lib.zip', archive.getvalue()))
    assert run_compiled(ft_server, files, r) == 'Hello World from c-lib'
    assert not climbing.exists() and not absolute.exists()


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


@pytest.mark.parametrize('compiler, source, message', [
    ('system-fpc', 'compile_error.pas', 'Identifier not found "undefined_name"'),
    ('pas', 'compile_error.pas', 'Identifier not found "undefined_name"'),
    ('system-java', 'compile_error.java', 'cannot find symbol'),
    ('java', 'compile_error.java', 'cannot find symbol'),
])
def test_pascal_and_java_compile_errors(ft_server, src, files, compiler, source, message):
    r = job(ft_server, job_type='compile', source_file=src(source), compiler=compiler,
            out_file=f'{files.prefix}/ce')
    assert r['result_code'] == 'CE' and 'exec_info' not in r
    assert message in r['compiler_output'] and 'undefined_name' in r['compiler_output']


def test_java_class_is_named_after_problem_short_name(ft_server, src, files):
    # The source is saved as <problem_short_name>.java, so its public class
    # compiles only when named after the problem.
    source = src('named_by_problem.java')
    r = compile_ok(ft_server, src, files, 'named_by_problem.java', 'system-java',
                   problem_short_name='abc')
    assert r['exec_info'] == {'mode': 'java', 'main_class': 'abc',
                              'preferred_filename': 'abc.jar'}
    assert run_compiled(ft_server, files, r) == 'Hello World from abc'
    r = job(ft_server, job_type='compile', source_file=source, compiler='system-java',
            out_file=f'{files.prefix}/unnamed')
    assert r['result_code'] == 'CE'
    assert 'should be declared in a file named abc.java' in r['compiler_output']
    r = run({'filetracker_url': ft_server.url, 'job_type': 'compile', 'source_file': source,
             'compiler': 'system-java', 'out_file': '/x', 'problem_short_name': 'a-b'})
    assert r['result'] == 'FAILURE' and "Java class name 'a-b'" in r['exception']


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


def test_toolchain_from_a_published_sandbox(tmp_path, programs, monkeypatch, request):
    # A toolchain sandbox is unpacked root-like into the box: here a stand-in
    # "gcc" (a static program) proves that it, not the host's gcc, was run.
    fake = tmp_path / 'compiler-gcc.12_2_0' / 'usr' / 'bin'
    fake.mkdir(parents=True)
    # The box user must reach the unpacked sandbox (pytest's tmp_path is private).
    reachable = Path(tempfile.mkdtemp(prefix='sio-test-sandboxes-'))
    request.addfinalizer(lambda: shutil.rmtree(reachable))  # also when the test fails
    reachable.chmod(0o711)
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(reachable))
    (fake / 'gcc').write_bytes(programs['fake_gcc'].read_bytes())
    (fake / 'gcc').chmod(0o755)
    with CentralServer.start(tmp_path / 'ft') as server:
        publish_sandbox(tmp_path / 'compiler-gcc.12_2_0', url=server.url)
        client_src = tmp_path / 'simple.c'
        client_src.write_text('int main(void) { return 0; }\n')
        from sio.workers.filetracker.client import FiletrackerClient
        source = FiletrackerClient(server.url, tmp_path / 'c').put_file('/s.c', client_src)
        r = job(server, job_type='compile', source_file=source, compiler='gcc12_2_0_c17',
                out_file='/out')
    assert r['result_code'] == 'OK', r['compiler_output']
    assert r['compiler_toolchain'].startswith('sandbox compiler-gcc.12_2_0 (version ')
    assert 'fake gcc ran' in r['compiler_output']


# -- a real toolchain sandbox, packed from the host's gcc ---------------------

GCC_SANDBOX = 'compiler-gcc.12_2_0'
HOST_ONLY = '/usr/bin/dpkg'  # on every Debian node, never in a toolchain sandbox


@pytest.fixture(scope='module')
def gcc_sandbox(tmp_path_factory):
    """A filetracker server of its own with the host's gcc published as the
    sandbox ``compiler-gcc.12_2_0`` (with ``sio-publish-sandbox``), the marker
    its header defines, and a node sandbox directory the box user can reach."""
    from tests.integration.host_toolchain import ToolchainUnavailable, pack
    tmp = tmp_path_factory.mktemp('gcc-sandbox')
    marker = f'sandbox-{uuid.uuid4().hex[:12]}'
    root = tmp / 'tree' / GCC_SANDBOX
    try:
        pack(root, {'usr/include/sio_toolchain_marker.h': f'#define SIO_TOOLCHAIN "{marker}"\n'})
    except ToolchainUnavailable as exc:
        # CI installs what packing needs: there a skip would hide the toolchain tests.
        if os.environ.get('CI') == 'true':
            pytest.fail(f'cannot pack the host gcc in CI: {exc}')
        pytest.skip(f'cannot pack the host gcc: {exc}')
    assert not (root / HOST_ONLY.lstrip('/')).exists() and Path(HOST_ONLY).exists()
    # Files private to the packing user (umask 077): installing lets boxes read them.
    (root / 'usr/include/sio_toolchain_marker.h').chmod(0o600)
    basedir = Path(tempfile.mkdtemp(prefix='sio-test-sandboxes-'))
    basedir.chmod(0o711)  # pytest's directories are private; the box user must get in
    try:
        with CentralServer.start(tmp / 'ft') as server:
            done = subprocess.run([str(Path(sys.executable).with_name('sio-publish-sandbox')),
                                   str(root), '--url', server.url], capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith(f'/sandboxes/{GCC_SANDBOX}.tar.gz@')
            yield server, marker, basedir
    finally:
        shutil.rmtree(basedir)


def _compile_probe(server, compiler, out='/probe-exe', source=SOURCES / 'toolchain_probe.c',
                   args=(f'-DHOST_ONLY="{HOST_ONLY}"',), **extra):
    from sio.workers.filetracker.client import FiletrackerClient
    with tempfile.TemporaryDirectory() as cache:  # (a client needs one; nothing stays)
        client = FiletrackerClient(server.url, Path(cache))
        source = client.put_file(f'/probe-{uuid.uuid4().hex}.c', source, to_local_store=False)
    return run({'filetracker_url': server.url, 'job_type': 'compile', 'source_file': source,
                'compiler': compiler, 'out_file': out, 'extra_compilation_args': list(args),
                **extra})


def _run_probe(server, compiled, tmp_path) -> str:
    from sio.workers.filetracker.client import FiletrackerClient
    client = FiletrackerClient(server.url, tmp_path / 'probe-client')
    (tmp_path / 'empty').write_text('')
    r = job(server, job_type='exec', exe_file=compiled['out_file'], exec_info=compiled['exec_info'],
            in_file=client.put_file(f'/in-{uuid.uuid4().hex}', tmp_path / 'empty'),
            out_file=f'/probe-out-{uuid.uuid4().hex}', upload_out=True, exec_time_limit=5000)
    assert r['result_code'] == 'OK', r
    client.get_file(r['out_file'], tmp_path / 'probe-out', add_to_cache=False)
    return (tmp_path / 'probe-out').read_text().strip()


def test_versioned_compiler_compiles_with_its_published_toolchain(gcc_sandbox, monkeypatch,
                                                                  tmp_path):
    # A real gcc from a sandbox, in a box holding nothing of the host's system:
    # the program it builds saw the sandbox's marker header and not the
    # host-only file.  "deny" proves no fallback was needed.
    server, marker, basedir = gcc_sandbox
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(basedir))
    monkeypatch.setenv('SIO_COMPILER_HOST_FALLBACK', 'deny')
    r = _compile_probe(server, 'gcc12_2_0_c17')
    assert r['result'] == 'SUCCESS', r.get('traceback')
    assert r['result_code'] == 'OK', r['compiler_output']
    assert r['compiler_toolchain'].startswith(f'sandbox {GCC_SANDBOX} (version ')
    assert 'compiler_toolchain_fallback' not in r
    major = subprocess.run(['gcc', '-dumpversion'], capture_output=True, text=True).stdout
    assert _run_probe(server, r, tmp_path) == \
        f'{marker} gcc{major.strip().split(".")[0]} host-files-hidden 1.4142'


def test_toolchain_box_holds_only_the_sandbox(gcc_sandbox, monkeypatch, tmp_path):
    # The compiler box's own view of its mounts: gcc's -wrapper runs the
    # sandbox's "strings" on /proc/self/mountinfo in place of the compiler
    # passes, so the compiler output lists them.  Every mount on /usr, /lib*
    # and /bin comes from the sandbox; none from the host.
    server, _, basedir = gcc_sandbox
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(basedir))
    r = _compile_probe(server, 'gcc12_2_0_c17',
                       args=['-wrapper', 'strings,-a,/proc/self/mountinfo,--'],
                       compilation_output_limit=None)
    mounts = [line.split()[3:5] for line in r['compiler_output'].splitlines()
              if len(line.split()) > 5 and line.split()[0].isdigit()]
    system = [(root, point) for root, point in mounts
              if point == '/usr' or point.startswith(('/usr/', '/lib', '/bin'))]
    assert '/usr' in [point for _, point in system], r['compiler_output']
    assert all(GCC_SANDBOX in root for root, _ in system), system


def test_system_compiler_next_to_a_toolchain_sandbox_uses_the_host(gcc_sandbox, monkeypatch,
                                                                  tmp_path):
    # The probe tells the two apart: the host's gcc sees the host's files.
    server, _, basedir = gcc_sandbox
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(basedir))
    r = _compile_probe(server, 'system-gcc')
    assert r['result_code'] == 'OK' and r['compiler_toolchain'].startswith('host gcc')
    assert 'compiler_toolchain_fallback' not in r
    assert _run_probe(server, r, tmp_path).startswith('no-marker gcc')
    assert _run_probe(server, r, tmp_path).endswith(' host-files-visible 1.4142')


def test_missing_toolchain_sandbox_falls_back_to_the_host_visibly(ft_server, tmp_path):
    # The session's server has no toolchain sandbox: by default the host's gcc
    # compiles, and the result says so.
    r = _compile_probe(ft_server, 'gcc12_2_0_c17', out=f'/fallback-{uuid.uuid4().hex}')
    assert r['result'] == 'SUCCESS' and r['result_code'] == 'OK', r
    assert r['compiler_toolchain'].startswith('host gcc')
    note = r['compiler_toolchain_fallback']
    assert f'toolchain sandbox {GCC_SANDBOX} is not available' in note
    assert 'SIO_COMPILER_HOST_FALLBACK=deny' in note
    assert _run_probe(ft_server, r, tmp_path).endswith(' host-files-visible 1.4142')


def test_denied_host_fallback_fails_the_job_naming_the_sandbox(ft_server, monkeypatch):
    monkeypatch.setenv('SIO_COMPILER_HOST_FALLBACK', 'deny')
    r = _compile_probe(ft_server, 'gcc12_2_0_c17', out=f'/denied-{uuid.uuid4().hex}')
    assert r['result'] == 'FAILURE' and 'result_code' not in r  # not the contestant's CE
    assert f"compiler 'gcc12_2_0_c17' needs the toolchain sandbox {GCC_SANDBOX}" in r['exception']
    assert 'SIO_COMPILER_HOST_FALLBACK=deny' in r['exception']
    assert f'sio-publish-sandbox DIR --name {GCC_SANDBOX}' in r['exception']
    # Compilers that never wanted a sandbox are not affected.
    r = _compile_probe(ft_server, 'system-gcc', out=f'/denied-{uuid.uuid4().hex}')
    assert r['result_code'] == 'OK' and 'compiler_toolchain_fallback' not in r


def test_unknown_host_fallback_setting_is_named(ft_server, monkeypatch):
    monkeypatch.setenv('SIO_COMPILER_HOST_FALLBACK', 'maybe')
    r = _compile_probe(ft_server, 'gcc12_2_0_c17', out=f'/unknown-{uuid.uuid4().hex}')
    assert r['result'] == 'FAILURE'
    assert "$SIO_COMPILER_HOST_FALLBACK: 'maybe' is neither allow nor deny" in r['exception']


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


def test_a_box_that_cannot_run_fails_the_job_instead_of_blaming_the_source(
        ft_server, src, files, monkeypatch, tmp_path):
    # A node whose bubblewrap is gone (PATH without it): a system error, never CE.
    compile_ok(ft_server, src, files, 'libm.c', 'system-gcc')  # host version probes cached first
    monkeypatch.setenv('PATH', str(tmp_path))
    r = run({'filetracker_url': ft_server.url, 'job_type': 'compile',
             'source_file': src('libm.c'), 'compiler': 'system-gcc',
             'out_file': f'{files.prefix}/{uuid.uuid4().hex}-exe'})
    assert r['result'] == 'FAILURE', r
    assert 'the compiler could not be run' in r['exception']
    assert 'bubblewrap' in r['exception']
