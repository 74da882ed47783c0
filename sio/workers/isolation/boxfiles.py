"""Reading back what a box left behind, without trusting any of it.

A box directory is writable by the program that ran in it, so whatever the
supervisor finds there afterwards may be hostile: a symbolic link (to
``/etc/shadow``, to the cluster's key, to another problem's answer in the node
cache), a FIFO (a read blocks forever), a device (``/dev/zero`` never ends), a
huge or sparse file, a directory where a file should be, or a name meant to
confuse (``t5.in@123`` reads as a filetracker version).  The supervisor runs
as root, so every reader of a box file — checker outputs and feedback,
program outputs, generated tests, compiled programs — goes through this
module, and so does every writer into a box that a program may already have
touched:

* a path is walked one component at a time relative to the box directory's
  descriptor (``openat`` with ``O_NOFOLLOW``): a symbolic link anywhere in
  it is refused, and so are ``..``, ``.``, empty components and absolute
  paths;
* only regular files are opened, with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO
  could never block the worker); the file is ``lstat``-ed first, so a FIFO,
  socket or device is not even opened, and ``fstat``-ed after opening, so a
  swap in between is caught;
* :func:`read_box_file` stops at a cap and says whether the file went on
  (:attr:`BoxRead.truncated`); :func:`copy_box_file` fails beyond its cap,
  judged by the size first (a sparse file is never copied);
* names listed from a box (:func:`list_box_dir`) are checked by
  :func:`name_problem`: no ``/``, no ``@``, no control characters, valid
  UTF-8, not ``.`` or ``..``.

Anything wrong raises :class:`BoxFileError`, which names the file and the
problem ("is a symbolic link", "is a FIFO, not a regular file", "is larger
than 4096 bytes") and never holds any content of the file or of what a link
points to.  The job decides what the problem means: the program's fault (a
verdict), a jury program's fault (the job fails, naming it) or a compilation
error.

``box`` is the box directory, as a path (opened here) or an open directory
descriptor (used as it is, never closed).  ``name`` is a relative path in it,
``/``-separated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Union

__all__ = [
    'BoxFileError', 'BoxRead', 'BoxFile', 'BoxEntry', 'read_box_file', 'open_box_file',
    'copy_box_file', 'list_box_dir', 'create_box_file', 'make_box_dir', 'name_problem',
]

Box = Union[str, os.PathLike, int]

#: :attr:`BoxFileError.kind` values.
MISSING, SYMLINK, NOT_REGULAR, NOT_DIRECTORY, TOO_LARGE, BAD_NAME, EXISTS = (
    'missing', 'symlink', 'not-regular', 'not-directory', 'too-large', 'bad-name', 'exists')

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 1 << 20
#: Most entries :func:`list_box_dir` looks at.
MAX_ENTRIES = 100_000


class BoxFileError(Exception):
    """A file of a box that cannot be used: what it is, not what it holds.

    ``name`` is the path asked for (or listed), ``problem`` the reason in
    words and ``kind`` one of ``missing``, ``symlink``, ``not-regular``,
    ``not-directory``, ``too-large``, ``bad-name``, ``exists``.
    """

    def __init__(self, name: str, problem: str, kind: str):
        super().__init__(f'{name!r} {problem}')
        self.name = name
        self.problem = problem
        self.kind = kind


@dataclass(frozen=True)
class BoxRead:
    """What :func:`read_box_file` read: at most the cap of ``data``; ``size``
    is the file's size; ``truncated`` is true when the file held more."""

    data: bytes
    size: int
    truncated: bool


@dataclass(frozen=True)
class BoxFile:
    """A regular file of a box, opened for reading (:func:`open_box_file`)."""

    file: BinaryIO
    size: int
    mode: int


@dataclass(frozen=True)
class BoxEntry:
    """One entry of a box directory (:func:`list_box_dir`).

    ``kind`` is ``file``, ``directory``, ``symbolic link``, ``FIFO``,
    ``socket``, ``character device`` or ``block device``; ``problem`` says
    why it cannot be read back as a file (None for a regular file whose name
    is usable).
    """

    name: str
    kind: str
    size: int
    problem: str | None


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISREG, 'file'), (stat.S_ISDIR, 'directory'),
                       (stat.S_ISLNK, 'symbolic link'), (stat.S_ISFIFO, 'FIFO'),
                       (stat.S_ISSOCK, 'socket'), (stat.S_ISCHR, 'character device'),
                       (stat.S_ISBLK, 'block device')):
        if test(mode):
            return kind
    return 'special file'


def _not_regular(name: str, mode: int) -> BoxFileError:
    if stat.S_ISLNK(mode):
        return BoxFileError(name, 'is a symbolic link', SYMLINK)
    return BoxFileError(name, f'is a {_kind(mode)}, not a regular file', NOT_REGULAR)


def name_problem(name: str) -> str | None:
    """Why ``name`` (one entry of a box directory) cannot be used as a file
    name to read back and upload; None when it can.

    >>> name_problem('t5.in'), name_problem('t5.in@123')
    (None, 'contains "@" (a filetracker version mark)')
    """
    if name in ('', '.', '..'):
        return 'is not a file name'
    if '/' in name:
        return 'contains "/"'
    if '@' in name:
        return 'contains "@" (a filetracker version mark)'
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return 'contains a control character'
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        return 'is not valid UTF-8'
    return None


def _parts(name: str | os.PathLike) -> list[str]:
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    parts = text.split('/')
    if text.startswith('/') or any(p in ('', '.', '..') for p in parts):
        raise BoxFileError(text, 'is not a plain relative path inside the box', BAD_NAME)
    return parts


@contextlib.contextmanager
def _box_fd(box: Box) -> Iterator[int]:
    if isinstance(box, int):
        yield box
        return
    fd = os.open(box, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _describe_failed_dir(dir_fd: int, part: str, shown: str, exc: OSError,
                         name: str | None = None) -> BoxFileError:
    """Why directory ``part`` (``shown`` from the box's root) of path ``name``
    could not be opened."""
    where = '' if name is None or name == shown else f'is not reachable: {shown!r} '
    try:
        mode = os.stat(part, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return BoxFileError(name or shown, where + 'is missing', MISSING)
    except OSError:
        mode = None
    if mode is not None and stat.S_ISLNK(mode):
        return BoxFileError(name or shown, where + 'is a symbolic link', SYMLINK)
    if mode is not None and not stat.S_ISDIR(mode):
        kind = 'regular file' if stat.S_ISREG(mode) else _kind(mode)
        return BoxFileError(name or shown, where + f'is a {kind}, not a directory',
                            NOT_DIRECTORY)
    return BoxFileError(name or shown, where + 'cannot be opened: '
                        + os.strerror(exc.errno or errno.EIO), NOT_DIRECTORY)


@contextlib.contextmanager
def _parent(box: Box, name: str | os.PathLike, create: bool = False) -> Iterator[tuple[int, str]]:
    """The descriptor of the directory holding ``name``'s last component (every
    component opened without following links; made when ``create``), and that
    last component."""
    parts = _parts(name)
    opened: list[int] = []
    try:
        with _box_fd(box) as fd:
            for i, part in enumerate(parts[:-1]):
                shown = '/'.join(parts[:i + 1])
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise _describe_failed_dir(fd, part, shown, exc, '/'.join(parts)) from None
                opened.append(fd)
            yield fd, parts[-1]
    finally:
        for fd in opened:
            os.close(fd)


def _open_regular(dir_fd: int, leaf: str, name: str) -> tuple[int, os.stat_result]:
    try:
        before = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise BoxFileError(name, 'is missing', MISSING) from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(name, before.st_mode)
    try:
        fd = os.open(leaf, _FILE_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise BoxFileError(name, 'is missing', MISSING) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BoxFileError(name, 'is a symbolic link', SYMLINK) from None
        raise BoxFileError(name, f'cannot be opened: {os.strerror(exc.errno or errno.EIO)}',
                           NOT_REGULAR) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _not_regular(name, st.st_mode)
    return fd, st


@contextlib.contextmanager
def open_box_file(box: Box, name: str | os.PathLike) -> Iterator[BoxFile]:
    """Open regular file ``name`` of the box for reading (see the module
    docs); the file is closed on exit."""
    with _parent(box, name) as (dir_fd, leaf):
        fd, st = _open_regular(dir_fd, leaf, os.fspath(name))
    with os.fdopen(fd, 'rb') as file:
        yield BoxFile(file, st.st_size, stat.S_IMODE(st.st_mode))


def read_box_file(box: Box, name: str | os.PathLike, limit: int, *,
                  missing_ok: bool = False) -> BoxRead | None:
    """At most ``limit`` bytes of regular file ``name`` of the box.  A missing
    file raises :class:`BoxFileError` (kind ``missing``), or gives None with
    ``missing_ok``."""
    try:
        with open_box_file(box, name) as opened:
            data = opened.file.read(limit + 1)
    except BoxFileError as exc:
        if missing_ok and exc.kind == MISSING:
            return None
        raise
    return BoxRead(data[:limit], opened.size, len(data) > limit)


def copy_box_file(box: Box, name: str | os.PathLike, dest: str | os.PathLike,
                  limit: int | None = None) -> int:
    """Copy regular file ``name`` of the box to ``dest`` (a path of the
    worker's, outside any box; replaced if it exists) with its permission
    bits (no set-id bits, no write for group and others); return its size.

    A file over ``limit`` bytes raises :class:`BoxFileError` (kind
    ``too-large``) and leaves no ``dest``.
    """
    shown = os.fspath(name)
    with open_box_file(box, name) as opened:
        if limit is not None and opened.size > limit:
            raise BoxFileError(shown, f'is larger than {limit} bytes', TOO_LARGE)
        out_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
        copied = 0
        try:
            with os.fdopen(out_fd, 'wb') as out:
                while chunk := opened.file.read(_CHUNK):
                    copied += len(chunk)
                    if limit is not None and copied > limit:
                        raise BoxFileError(shown, f'is larger than {limit} bytes', TOO_LARGE)
                    out.write(chunk)
            os.chmod(dest, opened.mode & 0o755)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(dest)
            raise
    return copied


def list_box_dir(box: Box, subdir: str | os.PathLike | None = None, *,
                 max_entries: int = MAX_ENTRIES) -> list[BoxEntry]:
    """The entries of the box directory (or of ``subdir`` in it), sorted by
    name, each with its kind and, where it cannot be read back as a file,
    why.  Nothing is followed or opened but the directory; more than
    ``max_entries`` entries raise :class:`BoxFileError`."""
    with contextlib.ExitStack() as stack:
        if subdir is None:
            dir_fd = stack.enter_context(_box_fd(box))
            shown = '.'
        else:
            shown = os.fspath(subdir)
            parent_fd, leaf = stack.enter_context(_parent(box, subdir))
            try:
                dir_fd = os.open(leaf, _DIR_FLAGS, dir_fd=parent_fd)
            except OSError as exc:
                raise _describe_failed_dir(parent_fd, leaf, shown, exc) from None
            stack.callback(os.close, dir_fd)
        entries = []
        with os.scandir(dir_fd) as listing:
            for entry in listing:
                if len(entries) >= max_entries:
                    raise BoxFileError(shown, f'holds more than {max_entries} entries',
                                       TOO_LARGE)
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                kind = _kind(st.st_mode)
                problem = name_problem(entry.name)
                if problem is None and kind != 'file':
                    problem = (f'is a {kind}' if kind == 'symbolic link'
                               else f'is a {kind}, not a regular file')
                entries.append(BoxEntry(entry.name, kind, st.st_size, problem))
    return sorted(entries, key=lambda e: e.name)


def create_box_file(box: Box, name: str | os.PathLike, mode: int = 0o644) -> BinaryIO:
    """A new regular file ``name`` in the box, open for writing; missing
    directories on the way are made.  Nothing is followed and nothing is
    overwritten: an existing ``name`` raises :class:`BoxFileError` (kind
    ``exists``)."""
    shown = os.fspath(name)
    with _parent(box, name, create=True) as (dir_fd, leaf):
        try:
            fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         mode, dir_fd=dir_fd)
        except FileExistsError:
            raise BoxFileError(shown, 'already exists', EXISTS) from None
    return os.fdopen(fd, 'wb')


def make_box_dir(box: Box, name: str | os.PathLike) -> None:
    """Make directory ``name`` (and the ones on its way) in the box; an
    existing directory is fine, anything else there raises
    :class:`BoxFileError`."""
    with _parent(box, name, create=True) as (dir_fd, leaf):
        with contextlib.suppress(FileExistsError):
            os.mkdir(leaf, 0o755, dir_fd=dir_fd)
        try:
            os.close(os.open(leaf, _DIR_FLAGS, dir_fd=dir_fd))
        except OSError as exc:
            raise _describe_failed_dir(dir_fd, leaf, os.fspath(name), exc) from None
