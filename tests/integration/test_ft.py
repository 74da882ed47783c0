import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sio.workers
from sio.demo.central import CentralServer, free_port
from sio.workers import ft
from sio.workers.filetracker.client import READ_TIMEOUT, FiletrackerClient
from sio.workers.filetracker.protocol import FiletrackerError, is_missing
from sio.workers.runner import run
from sio.workers.util import TemporaryCwd
from tests.conftest import put, start_together, transfers, unique


@pytest.fixture
def client(ft_server, tmp_path):
    """A separate 'OIOIOI-side' client with its own cache."""
    return FiletrackerClient(ft_server.url, tmp_path / 'other-cache')


def test_upload_and_download_round_trip_with_versions(ft_server, client, request, tmp_path):
    env = {'filetracker_url': ft_server.url, 'out_file': unique(request, 'out.txt')}
    ft.init_instance(ft_server.url)
    with TemporaryCwd():
        Path(sio.workers.util.tempcwd('local.txt')).write_bytes(b'payload\n')
        stored = ft.upload(env, 'out_file', 'local.txt')
    assert re.fullmatch(re.escape(unique(request, 'out.txt')) + r'@\d+', stored)
    assert env['out_file'] == stored
    client.get_file(stored, tmp_path / 'back')
    assert (tmp_path / 'back').read_bytes() == b'payload\n'
    # Downloads return clean single-version names, also on cache hits.
    assert client.get_file(stored, tmp_path / 'again') == stored
    assert client.get_file(stored.split('@')[0], tmp_path / 'again2') == stored


def test_download_destinations(ft_server, client, request, tmp_path):
    name = put(client, request, tmp_path, 'in.txt', b'42\n')
    env = {'in_file': name}
    ft.init_instance(ft_server.url)
    with TemporaryCwd() as job:
        assert ft.download(env, 'in_file') == os.path.join(job, 'in.txt')
        assert ft.download(env, 'in_file', 'sub/') == os.path.join(job, 'sub', 'in.txt')
        assert ft.download(env, 'in_file', 'x/y') == os.path.join(job, 'x', 'y')
        Path(job, 'kept').write_text('mine')
        assert ft.download(env, 'in_file', 'kept', skip_if_exists=True) == os.path.join(job, 'kept')
        assert Path(job, 'kept').read_text() == 'mine'
        # Without skip_if_exists, leftovers are replaced (stock filetracker kept them).
        assert Path(ft.download(env, 'in_file', 'kept')).read_bytes() == b'42\n'


def test_downloads_never_share_an_inode_with_the_cache(ft_server, client, request, tmp_path):
    name = put(client, request, tmp_path, 'exe', b'original')
    env = {'exe_file': name}
    ft.init_instance(ft_server.url)
    with TemporaryCwd():
        first = ft.download(env, 'exe_file', 'exe', add_to_cache=True)
        with open(first, 'ab') as f:
            f.write(b' TAMPERED')  # a job modifies its copy in place
    with TemporaryCwd():
        second = ft.download(env, 'exe_file', 'exe', add_to_cache=True)
        assert Path(second).read_bytes() == b'original'


def test_wrong_version_and_missing_files_are_clear_errors(ft_server, client, request, tmp_path):
    src = tmp_path / 'src'
    src.write_bytes(b'v')
    name = client.put_file(unique(request, 'f'), src)
    base, version = name.split('@')
    with pytest.raises(FiletrackerError, match=rf'Version {base}@{int(version) - 5} not available. Server has {version}'):
        client.get_file(f'{base}@{int(version) - 5}', tmp_path / 'x')
    with pytest.raises(FiletrackerError) as info:
        client.get_file(unique(request, 'missing'), tmp_path / 'y')
    assert is_missing(info.value)
    result = run({'job_type': 'ft-check', 'filetracker_url': ft_server.url,
                  'in_file': unique(request, 'missing'), 'out_file': unique(request, 'out')})
    assert result['result'] == 'FAILURE' and 'HTTP/404' in result['exception']


def test_an_upload_the_server_ignores_is_an_error(client, request, tmp_path):
    src = tmp_path / 'src'
    src.write_bytes(b'pinned')
    path = unique(request, 'pinned')
    client.put_file(f'{path}@4102444800', src)  # 2100-01-01: pins the name
    with pytest.raises(FiletrackerError, match='ignored: the server keeps its newer version 4102444800'):
        client.put_file(path, src)


def test_upload_destination_rules(ft_server, request):
    ft.init_instance(ft_server.url)
    with TemporaryCwd() as job:
        Path(job, 'o').write_text('x')
        env = {'out_file': unique(request, 'wins') + '@12345'}
        stored = ft.upload(env, 'out_file', 'o', dest='/ignored')
        assert stored.startswith(unique(request, 'wins') + '@') and not stored.endswith('@12345')
        env = {}
        assert ft.upload(env, 'k', 'o', dest=unique(request, 'dir') + '/').startswith(
            unique(request, 'dir') + '/o@')
        with pytest.raises(KeyError, match=r"environ\['k'\] is missing and no dest"):
            ft.upload({}, 'k', 'o')
    with pytest.raises(KeyError, match=r"environ\['in_file'\] is required but missing"):
        ft.download({}, 'in_file')


def test_use_filetracker_false_and_auto_use_local_paths(ft_server, client, request, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(sio.workers, '_original_cwd', str(tmp_path))
    (tmp_path / 'input.txt').write_text('local input')
    ft.init_instance(ft_server.url)
    with TemporaryCwd():
        env = {'use_filetracker': False, 'in_file': 'input.txt', 'out_file': 'results/out.txt'}
        assert Path(ft.download(env, 'in_file', 'in')).read_text() == 'local input'
        assert ft.upload(env, 'out_file', 'in') == 'results/out.txt'
    assert (tmp_path / 'results/out.txt').read_text() == 'local input'
    remote = client.put_file(unique(request, 'remote.txt'), tmp_path / 'input.txt')
    with TemporaryCwd():
        env = {'use_filetracker': 'auto', 'a': 'input.txt', 'b': remote}
        assert Path(ft.download(env, 'a', 'a')).read_text() == 'local input'
        assert Path(ft.download(env, 'b', 'b')).read_text() == 'local input'
        with pytest.raises(ValueError, match=r"environ\['use_filetracker'\]: 'yes'"):
            ft.download({'use_filetracker': 'yes', 'a': 'x'}, 'a')


def test_one_client_and_cache_per_server_url(ft_server, tmp_path):
    a = ft.init_instance(ft_server.url)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault('c', ft.init_instance(ft_server.url)))
    t.start()
    t.join()
    assert got['c'] is a
    assert a.cache_dir == ft.cache_dir_for(ft_server.url)
    assert a.cache_dir.parent == tmp_path / 'node-ft-cache'
    assert ft.instance() is a


def test_default_instance_reads_filetracker_url(ft_server, monkeypatch):
    monkeypatch.setenv('FILETRACKER_URL', ft_server.url)
    assert ft.instance().remote_url == ft_server.url


def test_server_down_is_a_clear_error_within_seconds(tmp_path):
    dead = FiletrackerClient(f'http://127.0.0.1:{free_port()}', tmp_path / 'c')
    started = time.monotonic()
    with pytest.raises(FiletrackerError, match='Error making HTTP request'):
        dead.get_file('/x@1', tmp_path / 'x')
    # Refused at once: not even one connect timeout waited (let alone retries).
    assert time.monotonic() - started < dead.timeout[0]


def test_hung_server_times_out_instead_of_hanging(tmp_path, monkeypatch):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)  # accepts connections (kernel backlog), never answers
    try:
        monkeypatch.setenv('SIO_FT_TIMEOUT', '1')
        hung = FiletrackerClient(f'http://127.0.0.1:{listener.getsockname()[1]}', tmp_path / 'c')
        assert hung.timeout[1] == 1.0
        started = time.monotonic()
        with pytest.raises(FiletrackerError, match='no answer within'):
            hung.get_file('/x@1', tmp_path / 'x')
        # It waited for the read timeout it was given, far less than the default one.
        assert hung.timeout[1] <= time.monotonic() - started < READ_TIMEOUT
    finally:
        listener.close()


def test_truncated_download_is_detected_and_leaves_nothing(lying_central, tmp_path):
    client = FiletrackerClient(lying_central, tmp_path / 'c')
    for add_to_cache in (True, False):
        with pytest.raises(FiletrackerError,
                           match='Truncated transfer of /short: received 10 of 12 bytes'):
            client.get_file('/short', tmp_path / 'dest', add_to_cache=add_to_cache)
        assert not (tmp_path / 'dest').exists()
        assert not any(p.is_file() for p in (tmp_path / 'c' / 'files').rglob('*'))
        assert os.listdir(tmp_path) == ['c']


def test_eight_processes_fetching_one_file_make_one_transfer(ft_server, client, request,
                                                             tmp_path):
    src = tmp_path / 'big'
    src.write_bytes(os.urandom(512 * 1024))
    name = client.put_file(unique(request, 'shared.in'), src, to_local_store=False)
    script = (
        'import sys\n'
        'from sio.workers import ft\n'
        'from sio.workers.util import TemporaryCwd\n'
        'ft.init_instance(sys.argv[1])\n'
        'print("ready", flush=True)\n'
        'sys.stdin.readline()\n'
        'with TemporaryCwd():\n'
        '    p = ft.download({"in_file": sys.argv[2]}, "in_file", "in", add_to_cache=True)\n'
        '    print(open(p, "rb").read() == open(sys.argv[3], "rb").read())\n'
    )
    procs = [subprocess.Popen([sys.executable, '-c', script, ft_server.url, name, str(src)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    start_together(procs)
    outputs = [p.communicate()[0].strip() for p in procs]
    assert outputs == ['True'] * 8
    assert transfers(ft_server, name.split('@')[0]) == 1


def test_trim_cache_evicts_least_recently_used(ft_server, client, request, tmp_path):
    node = FiletrackerClient(ft_server.url, tmp_path / 'node')
    names = []
    for i in range(3):
        src = tmp_path / f's{i}'
        src.write_bytes(bytes([i]) * 1000)
        names.append(client.put_file(unique(request, f'f{i}'), src, to_local_store=False))
    for i, name in enumerate(names):  # each use stamps the entry's access time
        node.get_file(name, tmp_path / f'd{i}')
    node.get_file(names[0], tmp_path / 'again')  # f0 is now the most recently used
    assert node.trim_cache(2000) == 1000
    cached = {p.name for p in (tmp_path / 'node' / 'files').rglob('f*')}
    assert cached == {'f0', 'f2'}


def test_a_client_set_with_set_instance_is_used(tmp_path):
    # OIOIOI's in-process back-end hands its own client (here filetracker's DummyClient).
    from filetracker.client.dummy import DummyClient
    dummy = DummyClient()
    ft.set_instance(dummy)
    assert ft.instance() is dummy
    with TemporaryCwd() as job:
        Path(job, 'f').write_text('dummy')
        env = {'out_file': '/d/f'}
        ft.upload(env, 'out_file', 'f')
        env['in_file'] = env['out_file']
        assert Path(ft.download(env, 'in_file', 'g')).read_text() == 'dummy'


def test_a_central_server_keeps_its_temporary_files_in_its_directory(tmp_path):
    with CentralServer.start(tmp_path / 'central') as central:
        # gunicorn's configuration, which a stop killing the group leaves behind
        own = [p.read_text() for p in (tmp_path / 'central' / 'tmp').iterdir()]
        assert any(f"'127.0.0.1:{central.port}'" in text for text in own), own


def test_empty_files_round_trip(client, request, tmp_path):
    empty = tmp_path / 'empty'
    empty.write_bytes(b'')
    name = client.put_file(unique(request, 'empty'), empty)
    client.get_file(name, tmp_path / 'back', add_to_cache=False)
    assert (tmp_path / 'back').read_bytes() == b''
