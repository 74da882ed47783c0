"""Fixtures shared by all tests: a real filetracker server and per-test node state."""

from __future__ import annotations

import contextlib
import glob
import gzip
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sio.demo.central import CentralServer
from sio.workers import ft

BIN = Path(sys.executable).parent

#: What a node writes where, unless told otherwise (``$HOME``, ``/tmp/ray``):
#: set for the whole session before any process starts, so that processes
#: started ahead of a test's own settings (Ray workers of a module's
#: cluster inherit the environment of ``ray.init``) write under the
#: session's temporary directories too.
SESSION_ENV = ('SIO_FT_CACHE_DIR', 'SIO_SANDBOXES_BASEDIR', 'FILETRACKER_DIR', 'RAY_TMPDIR',
               'TMPDIR')


@pytest.fixture(scope='session', autouse=True)
def hermetic_session(tmp_path_factory):
    """The session's node state in its own temporary directories: filetracker
    caches, sandboxes and the local store under a session directory; the
    temporary files of every process the tests start (``$TMPDIR``: job
    directories of killed workers, a stopped server's leftovers, Ray's
    dashboard) and Ray's session directories (``$RAY_TMPDIR``) in a
    directory of their own (a short path: Ray's socket paths are
    length-limited), removed at the end.  The isolation launcher's binary
    cache (``$SIO_CACHE_DIR``, ``/var/cache/sio-ray`` for root) is
    deliberately shared: binaries keyed by their source's hash.  At the end,
    the session fails if anything outside was left or changed: Ray session
    directories in the default place, the default filetracker cache
    (``~/.filetracker_cache``), class attributes patched in place."""
    from sio.workers.util import rmtree
    started = time.time()
    home_cache = Path.home() / '.filetracker_cache'
    home_cache_before = _tree_state(home_cache)
    base = tmp_path_factory.mktemp('session-node')
    classes = {cls: dict(vars(cls)) for cls in _guarded_classes()}
    children_tmp = tempfile.mkdtemp(prefix='sio-tests-')
    os.chmod(children_tmp, 0o1777)  # as /tmp: boxes run as another user
    saved = {name: os.environ.get(name) for name in SESSION_ENV}
    os.environ.update({'SIO_FT_CACHE_DIR': str(base / 'node-ft-cache'),
                       'SIO_SANDBOXES_BASEDIR': str(base / 'node-sandboxes'),
                       'FILETRACKER_DIR': str(base / 'local-ft-store'),
                       'RAY_TMPDIR': children_tmp, 'TMPDIR': children_tmp})
    try:
        yield base
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        rmtree(children_tmp)
    # A Ray this process started (local or a test cluster's head) names its
    # session directory after this pid: none may be in the default place.
    # (Made during this session: an older one may carry a reused pid.)
    leftovers = [d for d in glob.glob(f'/tmp/ray/session_*_{os.getpid()}')
                 if os.stat(d).st_mtime >= started]
    assert not leftovers, f'Ray session directories outside $RAY_TMPDIR: {leftovers}'
    assert _tree_state(home_cache) == home_cache_before, \
        f'{home_cache} was written to (a process without $SIO_FT_CACHE_DIR)'
    patched = sorted(f'{cls.__module__}.{cls.__qualname__}.{name}'
                     for cls, before in classes.items()
                     for name in before.keys() | vars(cls).keys()
                     if before.get(name) is not vars(cls).get(name))
    assert not patched, f'class attributes changed for the rest of the session: {patched}'


def _tree_state(top: Path) -> tuple[int, float] | None:
    """How many entries a directory tree holds and its newest change (None: no tree)."""
    if not top.exists():
        return None
    count, newest = 0, top.stat().st_mtime
    for where, dirs, files in os.walk(top):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(where, name)).st_mtime)
                count += 1
    return count, newest


def _guarded_classes() -> list[type]:
    """Classes a test might be tempted to patch in place (use a subclass, or
    ``monkeypatch``, which undoes it)."""
    import socketserver

    import requests

    from sio.workers.filetracker.client import FiletrackerClient
    return [http.server.BaseHTTPRequestHandler, http.server.SimpleHTTPRequestHandler,
            socketserver.BaseServer, requests.Session, FiletrackerClient]


@pytest.fixture(scope='session')
def ft_server(tmp_path_factory):
    """A stock filetracker-server on a free loopback port, for the whole session."""
    with CentralServer.start(tmp_path_factory.mktemp('central-ft')) as server:
        yield server


PROGRAMS = Path(__file__).parent / 'programs'


@pytest.fixture(scope='session')
def programs(tmp_path_factory) -> dict[str, Path]:
    """The C test programs of tests/programs, compiled statically once per session."""
    out = tmp_path_factory.mktemp('programs')
    built = {}
    for source in sorted(PROGRAMS.glob('*.c')):
        target = out / source.stem
        subprocess.run(['gcc', '-O2', '-static', '-pthread', '-o', str(target), str(source)],
                       check=True, capture_output=True)
        built[source.stem] = target
    return built


@pytest.fixture(autouse=True)
def node_state(tmp_path, monkeypatch):
    """Every test gets a fresh node: its own filetracker cache and sandbox directories,
    and no filetracker client left over from another test."""
    monkeypatch.setenv('SIO_FT_CACHE_DIR', str(tmp_path / 'node-ft-cache'))
    monkeypatch.setenv('SIO_SANDBOXES_BASEDIR', str(tmp_path / 'node-sandboxes'))
    monkeypatch.delenv('FILETRACKER_URL', raising=False)
    monkeypatch.delenv('SIO_SANDBOXES_URL', raising=False)
    monkeypatch.setenv('FILETRACKER_DIR', str(tmp_path / 'local-ft-store'))
    ft.reset()
    yield
    ft.reset()


def wait_until(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns something true (which is returned);
    fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        time.sleep(0.05)
    return value


def remove_cgroup(group: Path, evacuate_to: Path | None = None, timeout: float = 10.0) -> None:
    """Delete a cgroup a test made, retrying while its last processes leave
    (moving them to ``evacuate_to`` first, where given); fail when it is still
    there after ``timeout`` s: a test leaves no cgroup behind."""
    deadline = time.monotonic() + timeout
    while True:
        if evacuate_to is not None:
            with contextlib.suppress(OSError):
                for pid in (group / 'cgroup.procs').read_text().split():
                    with contextlib.suppress(OSError):
                        (evacuate_to / 'cgroup.procs').write_text(pid)
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            assert time.monotonic() < deadline, f'the cgroup {group} stays: {exc}'
            time.sleep(0.05)


def start_together(procs: list) -> None:
    """Release processes that each print ``ready`` and then wait for a line on
    their standard input: all at once, once every one of them is ready."""
    for proc in procs:
        line = proc.stdout.readline()
        assert line.strip() == 'ready', line
    for proc in procs:
        proc.stdin.write('go\n')
        proc.stdin.flush()


def processes_with(marker: str) -> list[int]:
    """Pids of the processes on this machine whose command line holds ``marker``."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / 'cmdline').read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def settled_log(server, quiet: float = 0.3, timeout: float = 10.0) -> str:
    """The server's log once it stopped growing (access lines are written after
    the response has gone out)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        text = server.log_path.read_text()
        if text == last or time.monotonic() > deadline:
            return text
        last = text
        time.sleep(quiet)


class _LyingCentral(http.server.BaseHTTPRequestHandler):
    """A filetracker server sending broken files: ``/short`` has a complete gzip
    body of 10 bytes announced as 12 (``Logical-Size``), ``/corrupt`` a gzip
    body with a wrong CRC.  Faked because the real server cannot be made to
    send a body that disagrees with its headers."""

    def do_GET(self):  # noqa: N802
        body = gzip.compress(b'0123456789')
        if 'corrupt' in self.path:
            body = body[:-8] + b'\0\0\0\0' + body[-4:]
        self.send_response(200)
        self.send_header('Content-Encoding', 'gzip')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Logical-Size', '12' if 'short' in self.path else '10')
        self.send_header('Last-Modified', 'Sat, 28 Nov 2026 10:00:00 GMT')
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def lying_central():
    """The URL of a :class:`_LyingCentral` on a loopback port."""
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _LyingCentral)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def unique(request, name: str) -> str:
    """A filetracker path of this test's own."""
    return f'/{re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)}/{name}'


def put(client, request, tmp_path, name: str, data: bytes) -> str:
    """Upload ``data`` as this test's file ``name`` through ``client`` (OIOIOI's
    side, keeping no copy); return the stored versioned name."""
    src = tmp_path / ('src-' + name)
    src.write_bytes(data)
    return client.put_file(unique(request, name), src, to_local_store=False)


def requests_for(server, path: str) -> int:
    """Number of requests for file ``path`` in the server's access log (any
    method: a HEAD is logged as an empty GET)."""
    pattern = re.compile(r'"[A-Z]+ /files%s HTTP/1\.1" ' % re.escape(path))
    return len(pattern.findall(settled_log(server)))


def transfers(server, path: str) -> int:
    """Number of GETs of ``path`` that sent a body (HEADs are logged as empty GETs)."""
    pattern = re.compile(r'"GET /files%s HTTP/1\.1" 200 (\d+)' % re.escape(path))
    return sum(1 for m in pattern.finditer(settled_log(server)) if int(m.group(1)) > 0)


def run_sio_batch(args=(), environ=None, env=None, stdin=None, timeout=None):
    """Run the installed sio-batch; return the CompletedProcess.  No clock of
    its own: the suite's per-test timeout (``timeout`` in pyproject.toml,
    pytest-timeout) stops a hung one, and the child with it."""
    full_env = dict(os.environ)
    if environ is not None:
        full_env['environ'] = environ if isinstance(environ, str) else json.dumps(environ)
    full_env.update(env or {})
    return subprocess.run([str(BIN / 'sio-batch'), *args], env=full_env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def parse_environ(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert lines[0] == '--- BEGIN ENVIRON ---', stdout
    assert lines[-1] == '--- END ENVIRON ---', stdout
    return json.loads('\n'.join(lines[1:-1]))


@pytest.fixture(scope='session')
def java_programs(tmp_path_factory) -> dict[str, Path]:
    """tests/programs/java/*.java, each compiled into a jar of its own."""
    out = tmp_path_factory.mktemp('java')
    built = {}
    for source in sorted((PROGRAMS / 'java').glob('*.java')):
        classes = out / source.stem
        classes.mkdir()
        # -XX:-UsePerfData: no /tmp/hsperfdata_<user> left behind by the host JVM.
        subprocess.run(['javac', '-J-XX:-UsePerfData', '-d', str(classes), str(source)],
                       check=True, capture_output=True)
        jar = out / f'{source.stem}.jar'
        subprocess.run(['jar', '-J-XX:-UsePerfData', 'cf', str(jar), '-C', str(classes), '.'],
                       check=True, capture_output=True)
        built[source.stem] = jar
    return built
