import functools
import http.server
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from sio.workers import ft
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.sandbox import Sandbox, SandboxError, get_sandbox, publish_sandbox
from tests.conftest import settled_log, start_together

BIN = Path(sys.executable).parent


def make_tool(tmp_path, name, version_text):
    d = tmp_path / 'src' / name
    (d / 'bin').mkdir(parents=True, exist_ok=True)
    tool = d / 'bin' / 'tool'
    tool.write_text(f'#!/bin/sh\necho {version_text}\n')
    tool.chmod(0o755)
    return d


def after_version(stored: str) -> None:
    """Wait until an upload would get a later version than ``stored`` (versions
    are this machine's clock in whole seconds)."""
    version = int(stored.rsplit('@', 1)[1])
    while int(time.time()) <= version:
        time.sleep(max(0.0, version + 1 - time.time()))


def sandbox_name(request):
    return 'sb-' + request.node.name.replace('[', '-').replace(']', '').replace('_', '-')


def test_publish_then_get_installs_and_runs(ft_server, tmp_path, request):
    name = sandbox_name(request)
    stored = publish_sandbox(make_tool(tmp_path, name, 'v1'), url=ft_server.url)
    assert stored.startswith(f'/sandboxes/{name}.tar.gz@')
    ft.init_instance(ft_server.url)
    with get_sandbox(name) as sandbox:
        assert sandbox.path == str(tmp_path / 'node-sandboxes' / name)
        out = subprocess.run([Path(sandbox.path) / 'bin' / 'tool'], capture_output=True, text=True)
        assert out.stdout == 'v1\n'
        assert sandbox.installed_version() == stored.split('@')[1]
    assert get_sandbox(name) is get_sandbox(name)


def test_sio_get_sandbox_and_sio_publish_sandbox_commands(ft_server, tmp_path, request):
    name = sandbox_name(request)
    src = make_tool(tmp_path, 'somedir', 'cli')
    done = subprocess.run([BIN / 'sio-publish-sandbox', src, '--name', name, '--url', ft_server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([BIN / 'sio-get-sandbox', name, '--url', ft_server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip(), 'bin', 'tool').exists()
    done = subprocess.run([BIN / 'sio-get-sandbox', 'no-such-sandbox', '--url', ft_server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'sandbox no-such-sandbox: not in filetracker' in done.stderr
    assert 'Traceback' not in done.stderr


def test_concurrent_first_use_by_several_processes_installs_once(ft_server, tmp_path, request):
    name = sandbox_name(request)
    publish_sandbox(make_tool(tmp_path, name, 'shared'), url=ft_server.url)
    script = (
        'import subprocess, sys\n'
        'from sio.workers import ft\n'
        'from sio.workers.sandbox import get_sandbox\n'
        'ft.init_instance(sys.argv[1])\n'
        'print("ready", flush=True)\n'
        'sys.stdin.readline()\n'
        'with get_sandbox(sys.argv[2]) as sb:\n'
        '    print(subprocess.run([sb.path + "/bin/tool"], capture_output=True, text=True).stdout.strip())\n'
    )
    procs = [subprocess.Popen([sys.executable, '-c', script, ft_server.url, name],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    start_together(procs)
    results = [p.communicate() for p in procs]
    assert [out.strip() for out, _ in results] == ['shared'] * 6, results
    pattern = f'"GET /files/sandboxes/{name}.tar.gz HTTP/1.1" 200 '
    downloads = [line for line in settled_log(ft_server).splitlines()
                 if pattern in line and not line.rstrip().split(pattern)[1].startswith('0 ')]
    assert len(downloads) == 1


def test_threads_share_one_install(ft_server, tmp_path, request):
    name = sandbox_name(request)
    publish_sandbox(make_tool(tmp_path, name, 't'), url=ft_server.url)
    errors, paths = [], []

    def use():
        try:
            ft.init_instance(ft_server.url)
            with get_sandbox(name) as sb:
                paths.append((Path(sb.path) / 'bin' / 'tool').read_text())
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(paths) == 8


def test_a_newer_published_version_is_installed_after_the_check_interval(
        ft_server, tmp_path, request, monkeypatch):
    name = sandbox_name(request)
    first = publish_sandbox(make_tool(tmp_path, name, 'old'), url=ft_server.url)
    ft.init_instance(ft_server.url)
    with get_sandbox(name) as sb:
        assert (Path(sb.path) / 'bin' / 'tool').read_text().endswith('echo old\n')
    after_version(first)
    second = publish_sandbox(make_tool(tmp_path, name, 'new'), url=ft_server.url)
    assert second != first
    # Within the check interval the installed copy is kept without asking the server.
    with get_sandbox(name) as sb:
        assert (Path(sb.path) / 'bin' / 'tool').read_text().endswith('echo old\n')
    monkeypatch.setenv('SIO_SANDBOXES_CHECK_INTERVAL', '0')
    with get_sandbox(name) as sb:
        assert (Path(sb.path) / 'bin' / 'tool').read_text().endswith('echo new\n')
        assert sb.installed_version() == second.split('@')[1]
    # Same version again: nothing is re-downloaded (upstream compared bytes with str).
    before = settled_log(ft_server).count(f'/files/sandboxes/{name}.tar.gz HTTP/1.1" 200')
    with get_sandbox(name) as sb:
        pass
    after = settled_log(ft_server).count(f'/files/sandboxes/{name}.tar.gz HTTP/1.1" 200')
    assert after - before == 1  # the version check (a HEAD), no download


def test_update_waits_until_no_process_uses_the_sandbox(ft_server, tmp_path, request, monkeypatch):
    name = sandbox_name(request)
    first = publish_sandbox(make_tool(tmp_path, name, 'old'), url=ft_server.url)
    ft.init_instance(ft_server.url)
    leaving = tmp_path / 'leaving'
    # Another process uses the sandbox until told to leave; it leaves a mark just before.
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import sys\nfrom pathlib import Path\nfrom sio.workers import ft\n'
         'from sio.workers.sandbox import get_sandbox\n'
         'ft.init_instance(sys.argv[1])\n'
         'with get_sandbox(sys.argv[2]):\n'
         '    print("in", flush=True)\n'
         '    sys.stdin.readline()\n'
         '    Path(sys.argv[3]).touch()\n',
         ft_server.url, name, str(leaving)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'in'
    after_version(first)
    publish_sandbox(make_tool(tmp_path, name, 'new'), url=ft_server.url)
    monkeypatch.setenv('SIO_SANDBOXES_CHECK_INTERVAL', '0')
    seen = {}

    def update():
        ft.init_instance(ft_server.url)  # (a filetracker client is chosen per thread)
        with get_sandbox(name) as sb:
            seen['holder had left'] = leaving.exists()
            seen['tool'] = (Path(sb.path) / 'bin' / 'tool').read_text()

    updater = threading.Thread(target=update, daemon=True)
    try:
        updater.start()
        updater.join(2)  # (an update that did not wait would be done by now)
        assert updater.is_alive() and not seen, seen
        holder.stdin.write('leave\n')
        holder.stdin.close()
        assert holder.wait() == 0
    finally:
        holder.kill()
    updater.join()
    # The update happened only after the user left.
    assert seen == {'holder had left': True, 'tool': '#!/bin/sh\necho new\n'}


def test_kept_when_the_source_is_unreachable(ft_server, tmp_path, request, monkeypatch):
    name = sandbox_name(request)
    publish_sandbox(make_tool(tmp_path, name, 'kept'), url=ft_server.url)
    ft.init_instance(ft_server.url)
    with get_sandbox(name):
        pass
    monkeypatch.setenv('SIO_SANDBOXES_CHECK_INTERVAL', '0')
    ft.set_instance(FiletrackerClient('http://127.0.0.1:9', tmp_path / 'dead-cache'))
    with get_sandbox(name) as sb:
        assert (Path(sb.path) / 'bin' / 'tool').read_text().endswith('echo kept\n')


def test_bad_archives_are_rejected_and_the_counter_restored(ft_server, tmp_path, request):
    ft.init_instance(ft_server.url)
    client = ft.instance()
    name = sandbox_name(request)
    # No top-level directory of the sandbox's name.
    archive = tmp_path / 'a.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(make_tool(tmp_path, 'other', 'x'), arcname='other')
    client.put_file(f'/sandboxes/{name}.tar.gz', archive)
    sandbox = get_sandbox(name)
    with pytest.raises(SandboxError, match=f'no top-level directory {name}/'):
        with sandbox:
            pass
    assert sandbox._in_context == 0 and sandbox._lock is None
    # A member escaping the base directory.
    evil = tmp_path / 'evil.tar.gz'
    with tarfile.open(evil, 'w:gz') as tar:
        info = tarfile.TarInfo('../escaped')
        info.size = 0
        tar.addfile(info)
    client.put_file(f'/sandboxes/{name}-evil.tar.gz', evil)
    with pytest.raises(SandboxError, match='bad archive'):
        with get_sandbox(f'{name}-evil'):
            pass
    assert not (tmp_path / 'escaped').exists()
    with pytest.raises(SandboxError, match='invalid sandbox name'):
        Sandbox('../etc')


class _FailingSandbox(Sandbox):
    def _get(self):
        raise RuntimeError('cannot install')


def test_a_failing_install_leaves_the_context_counter_at_zero():
    sandbox = _FailingSandbox('test')
    with pytest.raises(RuntimeError, match='cannot install'):
        with sandbox:
            pass
    assert sandbox._in_context == 0


class _QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory without logging each request (a subclass: patching
    the stock handler's class attribute would hold for the rest of the session)."""

    def log_message(self, *args):
        pass


def test_http_fallback_when_filetracker_lacks_the_sandbox(ft_server, tmp_path, request,
                                                          monkeypatch):
    name = sandbox_name(request)
    served = tmp_path / 'served'
    served.mkdir()
    with tarfile.open(served / f'{name}.tar.gz', 'w:gz') as tar:
        tar.add(make_tool(tmp_path, name, 'http'), arcname=name)
    os.utime(served / f'{name}.tar.gz', (1700000000, 1700000000))
    handler = functools.partial(_QuietFileHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv('SIO_SANDBOXES_URL', f'http://127.0.0.1:{server.server_port}/')
        ft.init_instance(ft_server.url)
        with get_sandbox(name) as sb:
            assert (Path(sb.path) / 'bin' / 'tool').read_text().endswith('echo http\n')
            assert sb.installed_version() == '1700000000'  # the HTTP Last-Modified
    finally:
        server.shutdown()
