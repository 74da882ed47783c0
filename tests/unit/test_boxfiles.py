"""The box-file reader on its own: links, FIFOs, devices, sockets, sizes and
names, including links and FIFOs swapped in while it reads (a second process
renames them over the file as fast as it can)."""

from __future__ import annotations

import doctest
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from sio.workers.isolation import boxfiles
from sio.workers.isolation.boxfiles import (BoxFileError, copy_box_file, create_box_file,
                                            list_box_dir, make_box_dir, open_box_file,
                                            read_box_file)


@pytest.fixture
def box(tmp_path):
    """A box directory and, outside it, a secret file whose content must never be read."""
    (tmp_path / 'box').mkdir()
    secret = tmp_path / 'secret'
    secret.write_text(f'SECRET{uuid.uuid4().hex}\n')
    return tmp_path / 'box', secret


def _kind(exc_info):
    return exc_info.value.kind


def test_doctests():
    assert doctest.testmod(boxfiles).failed == 0


def test_a_regular_file_is_read_up_to_the_cap(box):
    root, _ = box
    (root / 'sub').mkdir()
    (root / 'sub' / 'f').write_bytes(b'0123456789')
    assert read_box_file(root, 'sub/f', 100) == boxfiles.BoxRead(b'0123456789', 10, False)
    assert read_box_file(root, 'sub/f', 10) == boxfiles.BoxRead(b'0123456789', 10, False)
    assert read_box_file(root, 'sub/f', 4) == boxfiles.BoxRead(b'0123', 10, True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:  # an open directory descriptor works too, and stays open
        assert read_box_file(fd, 'sub/f', 3).data == b'012'
        os.fstat(fd)
    finally:
        os.close(fd)


def test_a_symlink_is_never_followed(box):
    root, secret = box
    (root / 'link').symlink_to(secret)
    (root / 'rel').symlink_to('../secret')
    (root / 'dangling').symlink_to('/nonexistent')
    for name in ('link', 'rel', 'dangling'):
        with pytest.raises(BoxFileError) as exc:
            read_box_file(root, name, 1 << 20)
        assert _kind(exc) == 'symlink' and str(exc.value) == f"'{name}' is a symbolic link"
        assert secret.read_text().strip() not in str(exc.value)
    with pytest.raises(BoxFileError, match='is a symbolic link'):
        copy_box_file(root, 'link', root.parent / 'copy')
    assert not (root.parent / 'copy').exists()


def test_a_symlink_in_a_middle_component_is_never_followed(box):
    root, secret = box
    (root / 'feedback').symlink_to(secret.parent)
    (root / 'real').mkdir()
    (root / 'real' / 'up').symlink_to('..')
    for name, where in [('feedback/secret', 'feedback'), ('real/up/feedback/secret', 'real/up')]:
        with pytest.raises(BoxFileError) as exc:
            read_box_file(root, name, 100)
        assert _kind(exc) == 'symlink'
        assert str(exc.value) == f"{name!r} is not reachable: {where!r} is a symbolic link"


@pytest.mark.parametrize('name', ['../secret', '/etc/passwd', 'a//b', './a', 'a/./b', 'a/../b',
                                  '', 'a/'])
def test_paths_that_are_not_plain_relative_paths_are_refused(box, name):
    root, _ = box
    with pytest.raises(BoxFileError) as exc:
        read_box_file(root, name, 100)
    assert _kind(exc) == 'bad-name'


def test_missing_files_and_directories(box):
    root, _ = box
    (root / 'dir').mkdir()
    (root / 'file').write_text('x')
    assert read_box_file(root, 'score.txt', 100, missing_ok=True) is None
    with pytest.raises(BoxFileError, match="'score.txt' is missing"):
        read_box_file(root, 'score.txt', 100)
    with pytest.raises(BoxFileError, match="'dir' is a directory, not a regular file"):
        read_box_file(root, 'dir', 100, missing_ok=True)
    with pytest.raises(BoxFileError, match="'file' is a regular file, not a directory"):
        read_box_file(root, 'file/x', 100)


def _read_in_thread(func, timeout=10.0):
    """Run func in a thread; return (finished, its result or exception)."""
    outcome = []

    def target():
        try:
            outcome.append(func())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), (outcome[0] if outcome else None)


def test_a_fifo_is_refused_without_blocking(box):
    root, _ = box
    os.mkfifo(root / 'fifo')
    finished, outcome = _read_in_thread(lambda: read_box_file(root, 'fifo', 100))
    if not finished:  # release the stuck reader before failing
        os.close(os.open(root / 'fifo', os.O_WRONLY | os.O_NONBLOCK))
    assert finished, 'reading a FIFO blocked'
    assert isinstance(outcome, BoxFileError) and outcome.kind == 'not-regular'
    assert str(outcome) == "'fifo' is a FIFO, not a regular file"


def test_a_socket_is_refused(box):
    root, _ = box
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / 'sock'))
        with pytest.raises(BoxFileError, match="'sock' is a socket, not a regular file"):
            read_box_file(root, 'sock', 100)


def test_a_device_is_refused_unopened(box):
    root, _ = box
    try:  # a /dev/zero of the box's own (root only, and not on a nodev mount's reading side)
        os.mknod(root / 'zero', stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        pytest.skip('cannot make a device node here')
    finished, outcome = _read_in_thread(lambda: read_box_file(root, 'zero', 1 << 30))
    assert finished and isinstance(outcome, BoxFileError), outcome
    assert str(outcome) == "'zero' is a character device, not a regular file"
    with pytest.raises(BoxFileError, match='character device'):
        copy_box_file(root, 'zero', root.parent / 'copy', limit=None)


def test_copies_are_capped_by_size_before_any_byte_is_copied(box):
    root, _ = box
    with open(root / 'sparse', 'wb') as f:
        f.truncate(1 << 40)  # a terabyte of nothing, instantly
    dest = root.parent / 'copy'
    before = _bytes_read_by_this_thread()
    with pytest.raises(BoxFileError) as exc:
        copy_box_file(root, 'sparse', dest, limit=1 << 20)
    assert _kind(exc) == 'too-large' and str(exc.value) == "'sparse' is larger than 1048576 bytes"
    assert _bytes_read_by_this_thread() - before < 1 << 20 and not dest.exists()
    # and a read reads no more than its cap
    before = _bytes_read_by_this_thread()
    assert len(read_box_file(root, 'sparse', 1000).data) == 1000
    assert _bytes_read_by_this_thread() - before < 1 << 20


def _bytes_read_by_this_thread() -> int:
    """What this thread read through read(2), sendfile(2) and copy_file_range(2)
    (the kernel's ``rchar``): no clock can say as surely that a terabyte was
    not read."""
    for line in Path('/proc/thread-self/io').read_text().splitlines():
        if line.startswith('rchar:'):
            return int(line.split()[1])
    raise AssertionError('no rchar in /proc/thread-self/io')


def test_a_copy_keeps_permission_bits_but_no_set_id_bits(box):
    root, _ = box
    (root / 'a.out').write_bytes(b'\x7fELF...')
    os.chmod(root / 'a.out', 0o6777)
    dest = root.parent / 'copy'
    assert copy_box_file(root, 'a.out', dest, limit=100) == 7
    assert dest.read_bytes() == b'\x7fELF...' and stat.S_IMODE(dest.stat().st_mode) == 0o755
    (root / 'data').write_text('x')
    os.chmod(root / 'data', 0o600)
    copy_box_file(root, 'data', dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_listing_says_what_each_entry_is_and_checks_names(box):
    root, secret = box
    (root / 't1.in').write_text('1\n')
    (root / 't5.in@123').write_text('5\n')
    (root / 'tab\there').write_text('')
    (root / 'link.in').symlink_to(secret)
    (root / 'dir.in').mkdir()
    os.mkfifo(root / 'fifo.in')
    os.close(os.open(os.fsencode(root) + b'/bad\xff.in', os.O_CREAT | os.O_WRONLY, 0o644))
    entries = {e.name: e for e in list_box_dir(root)}
    assert entries['t1.in'] == boxfiles.BoxEntry('t1.in', 'file', 2, None)
    assert entries['t5.in@123'].problem == 'contains "@" (a filetracker version mark)'
    assert entries['tab\there'].problem == 'contains a control character'
    assert entries['bad\udcff.in'].problem == 'is not valid UTF-8'
    assert (entries['link.in'].kind, entries['link.in'].problem) == \
        ('symbolic link', 'is a symbolic link')
    assert entries['dir.in'].kind == 'directory'
    assert entries['fifo.in'].problem == 'is a FIFO, not a regular file'
    assert [e.name for e in list_box_dir(root)] == sorted(entries)
    with pytest.raises(BoxFileError, match='symbolic link'):
        (root / 'sub').symlink_to(secret.parent)
        list_box_dir(root, 'sub')
    with pytest.raises(BoxFileError, match='more than 3 entries'):
        list_box_dir(root, max_entries=3)


def test_creating_files_never_follows_links_nor_overwrites(box):
    root, secret = box
    original = secret.read_text()
    (root / 'planted').symlink_to(secret)
    (root / 'dirlink').symlink_to(secret.parent)
    for name, kind in [('planted', 'exists'), ('dirlink/secret', 'symlink'),
                       ('dirlink/new', 'symlink')]:
        with pytest.raises(BoxFileError) as exc:
            create_box_file(root, name).close()
        assert _kind(exc) == kind, name
    assert secret.read_text() == original and not (secret.parent / 'new').exists()
    with create_box_file(root, 'a/b/c.h') as f:
        f.write(b'ok')
    assert (root / 'a' / 'b' / 'c.h').read_bytes() == b'ok'
    make_box_dir(root, 'a/b')
    make_box_dir(root, 'x/y')
    assert (root / 'x' / 'y').is_dir()
    with pytest.raises(BoxFileError, match='symbolic link'):
        make_box_dir(root, 'dirlink')


def test_open_box_file_gives_a_readable_regular_file(box):
    root, _ = box
    (root / 'in').write_bytes(b'data')
    with open_box_file(root, 'in') as opened:
        assert (opened.size, opened.file.read()) == (4, b'data')
    assert opened.file.closed


# -- swaps while reading ---------------------------------------------------------------

_SWAPPER = textwrap.dedent('''
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    os.chdir(sys.argv[1])
    name, other = sys.argv[2].encode(), sys.argv[3].encode()
    print('ready', flush=True)
    while True:  # renameat2(RENAME_EXCHANGE): the name always exists, flipping kinds
        if libc.renameat2(-100, name, -100, other, 2) != 0:
            sys.exit(f'renameat2: {os.strerror(ctypes.get_errno())}')
''')


@pytest.fixture
def swapper():
    """Start a process exchanging entry ``name`` with entry ``other`` as fast as
    it can; it is killed (by its pid) at the end."""
    started = []

    def start(directory, name, other):
        process = subprocess.Popen([sys.executable, '-c', _SWAPPER, str(directory), name, other],
                                   stdout=subprocess.PIPE)
        started.append(process)
        assert process.stdout.readline() == b'ready\n'
        return process
    yield start
    for process in started:
        process.kill()
        process.wait()


def _race(read, tries=20000):
    """Call read() ``tries`` times; return the results and the error kinds seen."""
    results, kinds = [], set()
    for _ in range(tries):
        try:
            results.append(read())
        except BoxFileError as exc:
            kinds.add(exc.kind)
    return results, kinds


def test_a_symlink_swapped_in_while_reading_is_never_followed(box, swapper):
    root, secret = box
    (root / 'judgemessage.txt').write_bytes(b'REGULAR')
    (root / 'other').symlink_to(secret)
    swapper(root, 'judgemessage.txt', 'other')
    results, kinds = _race(lambda: read_box_file(root, 'judgemessage.txt', 100).data)
    assert set(results) <= {b'REGULAR'}, 'a swapped-in symlink was followed'
    assert results and 'symlink' in kinds  # the race was really run


def test_a_directory_swapped_for_a_symlink_is_never_followed(box, swapper):
    root, secret = box
    (root / 'feedback').mkdir()
    (root / 'feedback' / 'secret').write_bytes(b'REGULAR')
    (root / 'other').symlink_to(secret.parent)
    swapper(root, 'feedback', 'other')
    results, kinds = _race(lambda: read_box_file(root, 'feedback/secret', 100).data)
    assert set(results) <= {b'REGULAR'}, 'a swapped-in directory symlink was followed'
    assert results and 'symlink' in kinds


def test_a_fifo_swapped_in_while_reading_never_blocks_nor_reads(box, swapper):
    root, _ = box
    (root / 'out').write_bytes(b'REGULAR')
    os.mkfifo(root / 'other')
    swapper(root, 'out', 'other')
    finished, outcome = _read_in_thread(
        lambda: _race(lambda: read_box_file(root, 'out', 100).data), timeout=120)
    if not finished:  # release the stuck reader
        for name in ('out', 'other'):
            try:
                os.close(os.open(root / name, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
    assert finished, 'a swapped-in FIFO blocked the reader'
    results, kinds = outcome
    assert set(results) <= {b'REGULAR'}, 'a FIFO was read as if it were a file'
    assert results and 'not-regular' in kinds
