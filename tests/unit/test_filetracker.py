"""The filetracker package's parts that need no server: dates, errors by status
code, the file lock, the store, the registry, and the jobs' API's reset."""

import os
import threading

import pytest

from sio.workers import ft
from sio.workers.filetracker import protocol
from sio.workers.filetracker.registry import AlreadyRunning, Registry
from sio.workers.filetracker.store import CacheStore, FileLock, locked


def test_http_dates_in_any_zone_are_versions():
    assert protocol.parse_http_date('Sat, 28 Nov 2026 10:00:00 GMT') == 1795860000
    assert protocol.parse_http_date('Sat, 28 Nov 2026 12:00:00 +0200') == 1795860000
    assert protocol.parse_http_date(protocol.http_date(1795860000)) == 1795860000
    for bad in ('', 'yesterday'):
        with pytest.raises(ValueError, match='is not a date'):
            protocol.parse_http_date(bad)


def test_errors_are_classified_by_status_not_by_their_words():
    missing = protocol.status_error(404, 'GET', '/a', 'gone')
    assert protocol.is_missing(missing) and isinstance(missing, protocol.HTTPError)
    assert str(missing) == 'HTTP/404: GET /a: gone' and missing.what == 'GET /a: gone'
    # A server error that mentions "404" or "not available" is not a missing file.
    broken = protocol.status_error(500, 'GET', '/a', 'HTTP/404: File not available')
    assert broken.status == 500 and not protocol.is_missing(broken)
    assert not protocol.is_missing(protocol.FiletrackerError('HTTP/404: from a stock client'))
    assert protocol.is_missing(protocol.FileMissing('File not available: /a'))
    for error in (missing, broken, protocol.Unreachable('x'), protocol.TimedOut('x'),
                  protocol.UploadIgnored('x', 1)):
        assert isinstance(error, ft.FiletrackerError)  # what stock-client code catches


def test_file_locks_exclude_each_other_and_say_when_they_waited(tmp_path):
    path = tmp_path / 'sub' / 'lock'
    first = FileLock(path)
    assert first.acquire(exclusive=False) is False and path.exists()
    with locked(path, exclusive=False) as waited:  # shared with shared
        assert waited is False
    with pytest.raises(BlockingIOError):
        with locked(path, exclusive=True, blocking=False):
            pass
    got = threading.Event()
    result = {}

    def take():
        with locked(path, exclusive=True) as waited:
            result['waited'] = waited
            got.set()

    thread = threading.Thread(target=take)
    thread.start()
    assert not got.wait(0.5)  # (the shared lock is still held)
    first.release()
    thread.join()
    assert result == {'waited': True} and not first.held


def test_the_store_keeps_one_entry_per_name_and_never_goes_back(tmp_path):
    store = CacheStore(tmp_path / 'store')
    for version, text in ((100, 'new'), (50, 'old')):
        tmp = store.tmp_dir('/d/f') / f'.ft-{version}'
        tmp.write_text(text)
        with store.lock('/d/f', exclusive=True):
            kept = store.install(tmp, '/d/f', version)
        assert (kept == store.path('/d/f')) == (version == 100)
    assert store.version('/d/f') == 100 and store.size('/d/f', 100) == 3
    with store.lock('/d/f', exclusive=False):
        assert store.open('/d/f', 50) is None
        with store.open('/d/f', 100) as f:
            assert f.read() == b'new'
    assert store.trim(0) == 3 and store.version('/d/f') is None


def test_the_registry_names_one_live_server(tmp_path):
    registry = Registry(tmp_path)
    assert registry.live_url('http://central') is None
    registry.register('http://node:1', 'http://central', 1.0)
    assert registry.live_url('http://central') == 'http://node:1'
    assert registry.live_url('http://other-central') is None
    with pytest.raises(AlreadyRunning, match='http://node:1'):
        Registry(tmp_path).register('http://node:2', 'http://central', 2.0)
    registry.unregister('http://node:2')  # not its registration: kept
    assert registry.live_url('http://central') == 'http://node:1'
    registry.unregister('http://node:1')
    assert registry.live_url('http://central') is None and not registry.path.exists()
    registry.path.write_text('{"url": "http://node:3", "pid": 0, "remote_url": "http://central"}')
    assert registry.live_url('http://central') is None  # a process that is gone


def test_reset_forgets_the_clients_of_every_thread(tmp_path, monkeypatch):
    chosen = ft.init_instance('http://127.0.0.1:9')
    seen, chose, asked = {}, threading.Event(), threading.Event()

    def other_thread():
        seen['before'] = ft.init_instance('http://127.0.0.1:9')
        chose.set()
        asked.wait()
        seen['after'] = ft.instance()

    thread = threading.Thread(target=other_thread)
    thread.start()
    chose.wait()
    monkeypatch.setenv('SIO_FT_CACHE_DIR', str(tmp_path / 'elsewhere'))
    ft.reset()
    asked.set()
    thread.join()
    assert seen['before'] is chosen
    assert seen['after'] is not chosen and seen['after'].remote_url is None  # no $FILETRACKER_URL
    assert ft.instance() is not chosen
    renewed = ft.init_instance('http://127.0.0.1:9')
    assert renewed is not chosen and renewed.cache_dir.parent == tmp_path / 'elsewhere'
    assert os.path.isdir(renewed.cache_dir)


class _DroppingServer:
    """An HTTP server that closes its first ``drop`` connections after reading
    a request, without answering, and answers the rest as a filetracker
    server answers a ``HEAD``/``GET`` of an empty file.  (A fake on purpose:
    the real filetracker-server closes an idle kept-alive connection only
    after 2 s, and cannot be made to do it at the moment a request goes out,
    which is the race this reaches.)"""

    def __init__(self, drop: int):
        import socket
        self.drop, self.requests = drop, []
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.url = f'http://127.0.0.1:{self.listener.getsockname()[1]}'
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b''
                while b'\r\n\r\n' not in head and (chunk := conn.recv(65536)):
                    head += chunk
                self.requests.append(head.split(b' ', 1)[0].decode())
                if len(self.requests) <= self.drop:
                    continue  # closed unanswered
                conn.sendall(b'HTTP/1.1 200 OK\r\nLast-Modified: Mon, 30 Nov 2026 12:00:00 GMT\r\n'
                             b'Content-Length: 0\r\nConnection: close\r\n\r\n')

    def close(self):
        self.listener.close()


@pytest.mark.parametrize('method', ['HEAD', 'GET'])
def test_a_read_whose_connection_was_closed_unanswered_is_sent_once_more(tmp_path, method):
    from sio.workers.filetracker.client import FiletrackerClient
    server = _DroppingServer(drop=1)
    try:
        client = FiletrackerClient(server.url, tmp_path, use_node_cache=False)
        if method == 'HEAD':
            assert client.remote_stat('/a') == (protocol.parse_http_date(
                'Mon, 30 Nov 2026 12:00:00 GMT'), 0)
        else:
            assert client.get_file('/a', tmp_path / 'a', add_to_cache=False) and (tmp_path / 'a').read_bytes() == b''
        assert server.requests == [method, method]
    finally:
        server.close()


def test_a_read_dropped_twice_and_an_upload_dropped_once_fail_as_unreachable(tmp_path):
    from sio.workers.filetracker.client import FiletrackerClient, Unreachable
    server = _DroppingServer(drop=3)
    try:
        client = FiletrackerClient(server.url, tmp_path, use_node_cache=False)
        with pytest.raises(Unreachable):
            client.remote_stat('/a')  # dropped, sent again, dropped: the server is broken
        (tmp_path / 'up').write_bytes(b'data')
        with pytest.raises(Unreachable):
            client.put_file('/b', tmp_path / 'up')  # an upload is never sent twice
        assert server.requests == ['HEAD', 'HEAD', 'PUT']
    finally:
        server.close()
