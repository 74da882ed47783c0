"""The node cache server against a real central filetracker-server."""

import contextlib
import email.utils
import gzip
import hashlib
import http.client
import http.server
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from filetracker.client import Client, FiletrackerError

from sio.demo.central import CentralServer, free_port
from sio.workers import ft, stats
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.registry import REGISTRY_FILE
from sio.workers.filetracker.server import AlreadyRunning, NodeCacheServer
from tests.conftest import put, requests_for, start_together, transfers, unique


@pytest.fixture
def origin(ft_server, tmp_path):
    """OIOIOI's side: puts test files on the central server."""
    return FiletrackerClient(ft_server.url, tmp_path / 'oioioi-cache')


@pytest.fixture
def node(ft_server):
    with NodeCacheServer(ft_server.url) as server:
        yield server


def stock(url):
    """A stock filetracker client without a cache of its own."""
    return Client(remote_url=url, local_store=None)


def delta(before: dict, name: str) -> float:
    return stats.totals().get(name, 0) - before.get(name, 0)


def test_a_stock_client_works_through_the_node_cache(ft_server, node, origin, request, tmp_path):
    client = stock(node.url)
    src = tmp_path / 'a.txt'
    src.write_bytes(b'abc\n' * 5000)
    name = client.put_file(unique(request, 'a.txt'), str(src))  # gzip + SHA-256, as stock does
    base, version = name.split('@')
    assert origin.file_version(base) == int(version)
    origin.get_file(name, tmp_path / 'central-copy')
    assert (tmp_path / 'central-copy').read_bytes() == src.read_bytes()
    for wanted in (base, name):
        assert client.get_file(wanted, str(tmp_path / 'got')) == name
        assert (tmp_path / 'got').read_bytes() == src.read_bytes()
    assert client.file_version(base) == int(version)
    assert client.file_size(name) == 20000
    assert client.remote_store.list_files(None, os.path.dirname(base), True) == [base.lstrip('/')]
    client.delete_file(name)
    with pytest.raises(FiletrackerError, match='HTTP/404'):
        origin.file_version(base)
    with pytest.raises(FiletrackerError, match='HTTP/404'):
        client.get_file(base, str(tmp_path / 'gone'))
    assert requests.get(node.url + '/version').json() == {'protocol_versions': [2]}
    answer = requests.get(node.url + '/status')
    assert answer.status_code == 400 and 'Unknown endpoint' in answer.headers['X-Exception']
    assert requests.get(node.url + '/files/a@1').status_code == 400
    for escape in ('/files/../../etc/passwd', '/files/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd'):
        connection = http.client.HTTPConnection(*node.server_address[:2])
        connection.request('GET', escape)  # sent as is, not normalised
        answer = connection.getresponse()
        assert answer.status == 400 and '.. in path' in answer.getheader('X-Exception')
        connection.close()


def test_twenty_concurrent_reads_of_one_input_make_one_central_get(
        ft_server, node, origin, request, tmp_path):
    data = os.urandom(256 * 1024)
    name = put(origin, request, tmp_path, 'test.in', data)
    before = stats.totals()
    start = threading.Barrier(20)
    got = []

    def read(i):
        start.wait()
        out = tmp_path / f'out{i}'
        versioned = stock(node.url).get_file(name if i % 2 else name.split('@')[0], str(out))
        got.append((versioned, out.read_bytes() == data))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == [(name, True)] * 20
    assert transfers(ft_server, name.split('@')[0]) == 1
    assert delta(before, 'ft_cache_misses') == 1
    assert delta(before, 'ft_cache_hits') == 19
    assert delta(before, 'ft_cache_miss_bytes') == len(data)


def test_jobs_read_hits_from_the_node_store_and_misses_through_the_server(
        ft_server, node, origin, request, tmp_path):
    data = os.urandom(300 * 1024)
    name = put(origin, request, tmp_path, 'shared.in', data)
    script = (
        'import json, sys\n'
        'from sio.workers import ft, stats\n'
        'from sio.workers.util import TemporaryCwd\n'
        'client = ft.init_instance(sys.argv[1])\n'
        'via = client.node_cache_url()\n'
        'print("ready", flush=True)\n'
        'sys.stdin.readline()\n'
        'same = []\n'
        'with TemporaryCwd():\n'
        '    for i in range(2):\n'
        '        p = ft.download({"in_file": sys.argv[2]}, "in_file", f"in{i}", add_to_cache=True)\n'
        '        same.append(open(p, "rb").read() == open(sys.argv[3], "rb").read())\n'
        'print(json.dumps([via, same, stats.totals()]))\n'
    )
    (tmp_path / 'expected').write_bytes(data)
    before = stats.totals()
    procs = [subprocess.Popen([sys.executable, '-c', script, ft_server.url, name,
                               str(tmp_path / 'expected')],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    start_together(procs)
    results = [json.loads(p.communicate()[0]) for p in procs]
    assert all(via == node.url and same == [True, True] for via, same, _ in results)
    direct_hits = sum(counters.get('ft_cache_hits', 0) for _, _, counters in results)
    assert all(counters.get('ft_cache_misses', 0) == 0 for _, _, counters in results)
    served = delta(before, 'ft_cache_hits') + delta(before, 'ft_cache_misses')
    # Every read was served exactly once: straight from the store, or by the server.
    assert direct_hits + served == 16
    assert direct_hits >= 8  # every second read at least
    assert delta(before, 'ft_cache_misses') == 1
    assert transfers(ft_server, name.split('@')[0]) == 1


def test_cached_files_are_served_while_the_central_server_is_down(request, tmp_path):
    central = CentralServer.start(tmp_path / 'central')
    try:
        origin = FiletrackerClient(central.url, tmp_path / 'oioioi-cache')
        name = put(origin, request, tmp_path, 'in', b'cached input\n')
        never = put(origin, request, tmp_path, 'other', b'never read\n')
        with NodeCacheServer(central.url) as node:
            client = stock(node.url)
            assert client.get_file(name, str(tmp_path / 'warm')) == name
            central.stop()
            before = stats.totals()
            base = name.split('@')[0]
            for wanted in (name, base):
                assert client.get_file(wanted, str(tmp_path / 'during')) == name
                assert (tmp_path / 'during').read_bytes() == b'cached input\n'
            assert client.file_version(base) == int(name.split('@')[1])
            # A stock client never sends the version it wants: both GETs and the HEAD were stale.
            assert delta(before, 'ft_cache_stale') == 3
            job_side = FiletrackerClient(central.url, ft.cache_dir_for(central.url))
            assert job_side.node_cache_url() == node.url
            assert job_side.get_file(base, tmp_path / 'job') == name
            with pytest.raises(FiletrackerError, match=r'HTTP/502.*Error making HTTP request'):
                client.get_file(never, str(tmp_path / 'missing'))
            assert not (tmp_path / 'missing').exists()
    finally:
        central.stop()


def test_a_head_of_an_unversioned_name_asks_the_central_server_once(
        ft_server, node, origin, request, tmp_path):
    name = put(origin, request, tmp_path, 'headed', b'h' * 1000)
    base, version = name.split('@')

    def head():
        before = requests_for(ft_server, base)
        answer = requests.head(node.url + '/files' + base)
        assert answer.status_code == 200, answer.headers
        assert answer.headers['Logical-Size'] == '1000'
        assert email.utils.parsedate_to_datetime(answer.headers['Last-Modified']).timestamp() \
            == int(version)
        return requests_for(ft_server, base) - before

    assert head() == 1  # not cached: the central server's version and size, together
    stock(node.url).get_file(name, str(tmp_path / 'cached'))
    assert head() == 1  # cached: still the central server's current version


class _GatedCentral(http.server.BaseHTTPRequestHandler):
    """A central server holding one file, ``/gated``, whose GET sends half of
    the body, then waits for ``server.gate`` before sending the rest: a fill
    that stays in progress as long as a test wants."""

    protocol_version = 'HTTP/1.1'

    def _headers(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header('Content-Encoding', 'gzip')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Logical-Size', str(len(self.server.data)))
        self.send_header('Last-Modified', email.utils.formatdate(self.server.version, usegmt=True))
        self.end_headers()

    def do_HEAD(self):  # noqa: N802
        self.server.requests.append(('HEAD', self.path))
        self._headers(gzip.compress(self.server.data))

    def do_GET(self):  # noqa: N802
        self.server.requests.append(('GET', self.path))
        body = gzip.compress(self.server.data)
        self._headers(body)
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.server.filling.set()
        self.server.gate.wait(120)
        self.wfile.write(body[len(body) // 2:])

    def log_message(self, *args):
        pass


@pytest.fixture
def gated_central():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _GatedCentral)
    server.daemon_threads = True
    server.data = os.urandom(200_000)
    server.version = 1795860000
    server.requests, server.filling, server.gate = [], threading.Event(), threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f'http://127.0.0.1:{server.server_address[1]}'
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()


def _lock_waiters(lock: Path) -> int:
    """Processes or threads waiting for an flock of ``lock`` (``/proc/locks``)."""
    inode = str(lock.stat().st_ino)
    return sum(1 for line in Path('/proc/locks').read_text().splitlines()
               if ' -> ' in line and line.split()[-3].rsplit(':', 1)[-1] == inode)


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        time.sleep(0.01)


def test_readers_wait_on_a_fill_in_progress_instead_of_fetching_again(gated_central, tmp_path):
    name = f'/gated@{gated_central.version}'
    got = {}

    def read(who, get):
        try:
            got[who] = get(tmp_path / who)
        except Exception as exc:  # handed to the assertions below
            got[who] = exc

    with NodeCacheServer(gated_central.url) as node:
        first = threading.Thread(target=read, args=(
            'first', lambda dest: stock(node.url).get_file(name, str(dest))))
        first.start()
        assert gated_central.filling.wait(60), 'the node cache never asked the central server'
        lock = node.client.cache_dir / 'locks' / 'gated'
        job = FiletrackerClient(gated_central.url, node.client.cache_dir, timeout=(1.0, 1.0))
        assert job.node_cache_url() == node.url
        others = [
            # a stock client: the node cache server waits for the fill
            threading.Thread(target=read, args=(
                'stock', lambda dest: stock(node.url).get_file(name, str(dest)))),
            # a job of the node: a versioned file is read from the node store
            threading.Thread(target=read, args=('job', lambda dest: job.get_file(name, dest))),
            # a job asking for the current version: the node cache server does not
            # answer within the job's timeout, so the job fetches by itself
            threading.Thread(target=read, args=(
                'job-current', lambda dest: job.get_file('/gated', dest))),
        ]
        for thread in others:
            thread.start()
        # The three, and the node cache server for the last one, wait on the file's lock.
        _wait_for(lambda: _lock_waiters(lock) == 4 or got,  # (or one gave up)
                  'the readers waiting on the lock of the file')
        gated_central.gate.set()
        for thread in [first, *others]:
            thread.join(60)
    assert got == dict.fromkeys(('first', 'stock', 'job', 'job-current'), name)
    for who in got:
        assert (tmp_path / who).read_bytes() == gated_central.data
    assert [r for r in gated_central.requests if r[0] == 'GET'] == [('GET', '/files/gated')]


def test_an_upload_passes_through_and_stays_in_the_node_cache(
        ft_server, node, origin, request, tmp_path):
    src = tmp_path / 'out'
    src.write_bytes(os.urandom(10000))
    client = stock(node.url)
    name = client.put_file(unique(request, 'out'), str(src), compress_hint=False)
    origin.get_file(name, tmp_path / 'central-copy')
    assert (tmp_path / 'central-copy').read_bytes() == src.read_bytes()
    assert client.get_file(name, str(tmp_path / 'back')) == name
    assert (tmp_path / 'back').read_bytes() == src.read_bytes()
    assert transfers(ft_server, name.split('@')[0]) == 1  # origin's; the node had its copy


def test_a_corrupted_or_incomplete_upload_is_refused(ft_server, node, origin, request):
    path = unique(request, 'bad')
    when = {'last_modified': 'Sat, 28 Nov 2026 10:00:00 GMT'}
    body = gzip.compress(b'payload')
    answer = requests.put(node.url + '/files' + path, params=when, data=body, headers={
        'Content-Encoding': 'gzip', 'Logical-Size': '7',
        'SHA256-Checksum': hashlib.sha256(b'other').hexdigest()})
    assert answer.status_code == 400 and 'SHA256-Checksum' in answer.headers['X-Exception']
    answer = requests.put(node.url + '/files' + path, params=when, data=body, headers={
        'Content-Encoding': 'gzip', 'Logical-Size': '8'})
    assert answer.status_code == 400 and 'not 8' in answer.headers['X-Exception']
    answer = requests.put(node.url + '/files' + path, data=b'x')
    assert answer.status_code == 400 and 'last_modified' in answer.headers['X-Exception']
    with pytest.raises(FiletrackerError, match='HTTP/404'):
        origin.file_version(path)
    assert not list((node.client.cache_dir / 'files').rglob('bad*'))


def _bytes_in(files: Path) -> int:
    """The bytes of the cached files under ``files`` (one the trimmer removes
    between the listing and its stat counts nothing: it is gone)."""
    total = 0
    for path in files.rglob('f*'):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def test_the_cache_stays_within_its_bound(ft_server, origin, request, tmp_path):
    names = [put(origin, request, tmp_path, f'f{i}', bytes([i]) * 100_000) for i in range(5)]
    before = stats.totals()
    with NodeCacheServer(ft_server.url, max_bytes=250_000, trim_interval=0.5) as node:
        client = stock(node.url)
        for name in names:  # each use stamps the entry's access time
            client.get_file(name, str(tmp_path / 'x'))
        client.get_file(names[0], str(tmp_path / 'x'))  # f0 is now the most recently used
        files = node.client.cache_dir / 'files'
        # The trimmer looks every second and trims every trim_interval: give it 30 looks.
        _wait_for(lambda: _bytes_in(files) <= 250_000,
                  'the cache trimmed to its bound', timeout=30 * max(1.0, node.trim_interval))
        kept = {p.name for p in files.rglob('f*')}
    assert 'f0' in kept and 'f4' in kept and len(kept) == 2
    # (more if the trimmer ran between two reads and f0 had to come back)
    assert delta(before, 'ft_cache_evicted_bytes') >= 300_000


def test_a_file_that_fails_its_checks_is_not_cached(lying_central):
    with NodeCacheServer(lying_central) as node:
        for name, why in (('/short', 'Truncated transfer'), ('/corrupt', 'incorrect data check')):
            answer = requests.get(node.url + '/files' + name,
                                  params={'last_modified': 'Sat, 28 Nov 2026 10:00:00 GMT'})
            assert answer.status_code == 502 and why in answer.headers['X-Exception']
        assert [p for p in (node.client.cache_dir / 'files').rglob('*') if p.is_file()] == []


def test_one_live_server_per_cache_on_loopback(ft_server):
    with NodeCacheServer(ft_server.url) as node:
        assert node.server_address[0] == '127.0.0.1'
        assert json.loads(node.registry.path.read_text())['url'] == node.url
        assert ft.node_cache_url(ft_server.url) == node.url
        with pytest.raises(AlreadyRunning, match=node.url):
            NodeCacheServer(ft_server.url).start()
    assert not node.registry.path.exists()
    assert ft.node_cache_url(ft_server.url) is None


def _kill_and_wait(pid: int, signum: int) -> None:
    """Send ``signum`` to process ``pid`` (not necessarily a child) and wait for its end."""
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signum)
        # Generous: a server stops its threads within seconds (5 s per thread at most).
        assert select.select([fd], [], [], 120)[0], f'process {pid} did not end'
    finally:
        os.close(fd)


def _stop(url: str, cache_dir: Path) -> None:
    pid = json.loads((cache_dir / REGISTRY_FILE).read_text())['pid']
    assert requests.get(url + '/stats').json()['pid'] == pid
    _kill_and_wait(pid, signal.SIGTERM)
    assert not (cache_dir / REGISTRY_FILE).exists()  # unregistered on its way out


def test_launch_filetracker_server_starts_one_in_the_background(ft_server, origin, request,
                                                                tmp_path):
    url = ft.launch_filetracker_server(ft_server.url)
    try:
        assert ft.launch_filetracker_server(ft_server.url) == url
        exe = Path(sys.executable).with_name('sio-run-filetracker')
        for flags, status in (([], 0), (['--foreground'], 3)):
            again = subprocess.run([str(exe), '--url', ft_server.url, *flags],
                                   capture_output=True, text=True, timeout=60)
            assert (again.returncode, again.stdout.strip()) == (status, url), again.stderr
        name = put(origin, request, tmp_path, 'in', b'through the background server')
        job = FiletrackerClient(ft_server.url, ft.cache_dir_for(ft_server.url))
        job.get_file(name, tmp_path / 'got')
        assert requests.get(url + '/stats').json()['counters']['ft_cache_misses'] == 1
    finally:
        _stop(url, ft.cache_dir_for(ft_server.url))
    exe = Path(sys.executable).with_name('sio-run-filetracker')
    bad = subprocess.run([str(exe), '--url', ft_server.url, '--max-size', 'lots'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "'lots' is not a size" in bad.stderr
    env = {k: v for k, v in os.environ.items() if k != 'FILETRACKER_URL'}
    bad = subprocess.run([str(exe)], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and 'give --url' in bad.stderr
    assert ft.launch_filetracker_server() is None  # no central server: nothing to cache


def test_jobs_fetch_directly_when_the_node_server_is_gone(ft_server, origin, request, tmp_path):
    cache_dir = ft.cache_dir_for(ft_server.url)
    ft.launch_filetracker_server(ft_server.url)
    pid = json.loads((cache_dir / REGISTRY_FILE).read_text())['pid']
    _kill_and_wait(pid, signal.SIGKILL)  # the registry stays behind, naming a dead process
    assert (cache_dir / REGISTRY_FILE).exists()
    assert ft.node_cache_url(ft_server.url) is None
    name = put(origin, request, tmp_path, 'a', b'direct')
    job = FiletrackerClient(ft_server.url, cache_dir)
    assert job.get_file(name, tmp_path / 'a') == name
    # Registered and alive but not answering (the port is closed): bypassed too.
    (cache_dir / REGISTRY_FILE).write_text(json.dumps(
        {'url': f'http://127.0.0.1:{free_port()}', 'pid': os.getpid(), 'remote_url': ft_server.url}))
    name = put(origin, request, tmp_path, 'b', b'direct again')
    job = FiletrackerClient(ft_server.url, cache_dir)
    assert job.node_cache_url() is not None
    assert job.get_file(name, tmp_path / 'b') == name
    assert (tmp_path / 'b').read_bytes() == b'direct again'
    # Registered, alive, listening, but never answering (hung): bypassed after the timeout.
    with socket.socket() as hung:
        hung.bind(('127.0.0.1', 0))
        hung.listen()
        (cache_dir / REGISTRY_FILE).write_text(json.dumps(
            {'url': f'http://127.0.0.1:{hung.getsockname()[1]}', 'pid': os.getpid(),
             'remote_url': ft_server.url}))
        name = put(origin, request, tmp_path, 'c', b'after a hung node cache')
        job = FiletrackerClient(ft_server.url, cache_dir, timeout=(1.0, 1.0))
        assert job.get_file(name, tmp_path / 'c') == name
        assert (tmp_path / 'c').read_bytes() == b'after a hung node cache'
