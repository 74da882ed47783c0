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
