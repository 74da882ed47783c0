"""Software sandboxes: named directories of prepared software (compilers, tools).

A sandbox called ``NAME`` is published as the tarball ``/sandboxes/NAME.tar.gz``
in filetracker, holding one top-level directory ``NAME/``.  A node unpacks it
under ``$SIO_SANDBOXES_BASEDIR`` (default ``~/.sio-sandboxes``, or
``/var/cache/sio-ray/sandboxes`` for root, where boxes can reach it) on first use,
and checks for a newer published version at most every
``$SIO_SANDBOXES_CHECK_INTERVAL`` seconds (default 3600).  When filetracker
does not have it, ``$SIO_SANDBOXES_URL/NAME.tar.gz`` is tried over HTTP (only
when that variable is set).  ("Sandbox" here is software, not isolation.)

Use a sandbox as a context manager; while any user is inside it, no process
replaces it with a newer version::

    with get_sandbox('compiler-gcc.12_2_0') as sandbox:
        gcc = os.path.join(sandbox.path, 'bin', 'gcc')

Administrators publish their own with ``sio-publish-sandbox DIR``.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tarfile
import tempfile
import threading
import time
import weakref
from pathlib import Path

import requests
from filetracker.utils import split_name

from sio.workers import ft, settings
from sio.workers.filetracker.protocol import parse_http_date
from sio.workers.filetracker.store import FileLock
from sio.workers.util import rmtree

__all__ = ['Sandbox', 'SandboxError', 'get_sandbox', 'publish_sandbox']


class SandboxError(Exception):
    """A sandbox could not be obtained or is malformed."""


def _basedir() -> Path:
    configured = settings.SANDBOXES_BASEDIR.get()
    if configured is not None:
        return configured
    if os.geteuid() == 0:  # boxes run as another user and must reach toolchain sandboxes
        return Path('/var/cache/sio-ray/sandboxes')
    return Path.home() / '.sio-sandboxes'


def _check_interval() -> float:
    return settings.SANDBOXES_CHECK_INTERVAL.get()


def ft_path(name: str) -> str:
    """Where sandbox ``name`` is published in filetracker."""
    return f'/sandboxes/{name}.tar.gz'


class Sandbox:
    """The sandbox ``name`` unpacked under ``basedir``; get it with :func:`get_sandbox`.

    Entering the context installs or updates it when needed and holds a
    shared inter-process lock until the last user (thread) leaves.
    """

    def __init__(self, name: str, basedir: str | os.PathLike | None = None):
        if not name or '/' in name or name.startswith('.'):
            raise SandboxError(f'invalid sandbox name {name!r}')
        self.name = name
        self.basedir = Path(basedir) if basedir is not None else _basedir()
        #: The unpacked sandbox directory (a ``str``, as upstream plugins expect).
        self.path = str(self.basedir / name)
        self._mutex = threading.Lock()
        self._in_context = 0
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f'Sandbox({self.name!r}, basedir={str(self.basedir)!r})'

    def __enter__(self) -> 'Sandbox':
        with self._mutex:
            self._in_context += 1
            if self._in_context == 1:
                try:
                    self._get()
                except BaseException:
                    self._in_context -= 1
                    raise
        return self

    def __exit__(self, *exc_info) -> None:
        with self._mutex:
            self._in_context -= 1
            if self._in_context == 0 and self._lock is not None:
                self._lock.release()
                self._lock = None

    # -- install -----------------------------------------------------------

    def _get(self) -> None:
        """Install or update the sandbox when needed; keep a shared lock on it."""
        lock = FileLock(self.basedir / f'{self.name}.lock', mode=0o644)
        try:
            lock.acquire(exclusive=False)
            if self._needs_install():
                lock.acquire(exclusive=True)  # waits until no process uses it
                if self._needs_install():
                    self._install()
                lock.acquire(exclusive=False)
        except BaseException:
            lock.release()
            raise
        self._lock = lock

    def installed_version(self) -> str | None:
        """The version of the unpacked copy, or None when not installed."""
        try:
            return (Path(self.path) / '.hash').read_text().strip()
        except FileNotFoundError:
            return None

    def _touch_last_check(self) -> None:
        # Several processes may do this at once: write a new file and rename it.
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix='.last_check.')
        with os.fdopen(fd, 'w') as f:
            f.write(str(int(time.time())))
        os.replace(tmp, Path(self.path) / '.last_check')

    def _needs_install(self) -> bool:
        installed = self.installed_version()
        if installed is None:
            return True
        try:
            last_check = float((Path(self.path) / '.last_check').read_text())
        except (FileNotFoundError, ValueError):
            last_check = 0.0
        if time.time() - last_check < _check_interval():
            return False
        try:
            current = self._remote_version()
        except Exception as exc:  # keep the working copy while the source is unreachable
            print(f'sandbox {self.name}: cannot check for updates ({exc}); keeping {installed}',
                  file=sys.stderr)
            self._touch_last_check()
            return False
        if current != installed:
            return True
        self._touch_last_check()
        return False

    def _remote_version(self) -> str:
        try:
            return str(ft.instance().file_version(ft_path(self.name)))
        except Exception as ft_error:
            url = settings.SANDBOXES_URL.get()
            if not url:
                raise
            response = requests.head(f'{url.rstrip("/")}/{self.name}.tar.gz', timeout=30,
                                     allow_redirects=True)
            response.raise_for_status()
            return _http_version(response, ft_error)

    def _download(self, archive: Path) -> str:
        """Fetch the tarball into ``archive``; return its version."""
        try:
            name = ft.instance().get_file(ft_path(self.name), archive, add_to_cache=False)
            return str(split_name(name)[1])
        except Exception as ft_error:
            url = settings.SANDBOXES_URL.get()
            if not url:
                raise SandboxError(
                    f'sandbox {self.name}: not in filetracker ({ft_error}) and '
                    f'SIO_SANDBOXES_URL is not set') from None
            try:
                with requests.get(f'{url.rstrip("/")}/{self.name}.tar.gz', stream=True,
                                  timeout=30) as response:
                    response.raise_for_status()
                    with open(archive, 'wb') as f:
                        for chunk in response.iter_content(1 << 20):
                            f.write(chunk)
                    return _http_version(response, ft_error)
            except requests.RequestException as exc:
                raise SandboxError(
                    f'sandbox {self.name}: not in filetracker ({ft_error}) nor at {url} ({exc})'
                ) from None

    def _install(self) -> None:
        """Download, unpack beside the old copy, then swap (exclusive lock held)."""
        work = Path(tempfile.mkdtemp(prefix=f'.{self.name}.install-', dir=self.basedir))
        try:
            archive = work / 'archive.tar.gz'
            version = self._download(archive)
            unpacked = work / 'unpacked'
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(unpacked, filter='data')
            except (tarfile.TarError, OSError) as exc:
                raise SandboxError(f'sandbox {self.name}: bad archive: {exc}') from None
            fresh = unpacked / self.name
            if not fresh.is_dir():
                raise SandboxError(
                    f'sandbox {self.name}: the archive has no top-level directory {self.name}/')
            _readable_by_all(fresh)
            (fresh / '.hash').write_text(version)
            (fresh / '.last_check').write_text(str(int(time.time())))
            if os.path.exists(self.path):
                os.rename(self.path, work / 'old')
            fresh.rename(self.path)
        finally:
            rmtree(work)


def _readable_by_all(root: Path) -> None:
    """Boxes run as another user than the worker: let everyone traverse the
    sandbox's directories and read its files (a tree packed from a private
    directory would otherwise be out of their reach).  Nothing becomes
    writable or newly executable."""
    for directory, _, names in os.walk(root):
        os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) | 0o555)
        for name in names:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                os.chmod(path, stat.S_IMODE(mode) | 0o444 | (0o111 if mode & 0o100 else 0))


def _http_version(response: requests.Response, ft_error: Exception) -> str:
    modified = response.headers.get('last-modified')
    if not modified:
        raise SandboxError(f'no Last-Modified from {response.url} (filetracker: {ft_error})')
    return str(parse_http_date(modified))


_sandboxes: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_sandboxes_lock = threading.Lock()


def get_sandbox(name: str, basedir: str | os.PathLike | None = None) -> Sandbox:
    """The process's one :class:`Sandbox` object for ``name`` (use it as a context manager)."""
    key = (name, str(Path(basedir) if basedir is not None else _basedir()))
    with _sandboxes_lock:
        sandbox = _sandboxes.get(key)
        if sandbox is None:
            sandbox = _sandboxes[key] = Sandbox(name, basedir)
        return sandbox


def publish_sandbox(directory: str | os.PathLike, name: str | None = None,
                    url: str | None = None) -> str:
    """Pack ``directory`` as sandbox ``name`` (default: the directory's name) and
    upload it to the filetracker at ``url`` (default ``$FILETRACKER_URL``).
    Returns the stored versioned path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SandboxError(f'{directory} is not a directory')
    name = name or directory.resolve().name
    Sandbox(name)  # validates the name
    client = ft.init_instance(url) if url else ft.instance()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp, f'{name}.tar.gz')
        # gzip's own default level: toolchains pack 3x faster than at level 9,
        # for 1 % more bytes.
        with tarfile.open(archive, 'w:gz', compresslevel=6) as tar:
            tar.add(directory, arcname=name)
        return client.put_file(ft_path(name), archive, to_local_store=False)


def main(argv: list[str] | None = None) -> int:
    """``sio-get-sandbox NAME``: install (or update) a sandbox and print its path."""
    parser = argparse.ArgumentParser(prog='sio-get-sandbox', description=main.__doc__)
    parser.add_argument('name')
    parser.add_argument('--url', help='filetracker URL (default: $FILETRACKER_URL)')
    args = parser.parse_args(argv)
    if args.url:
        ft.init_instance(args.url)
    try:
        with get_sandbox(args.name) as sandbox:
            print(sandbox.path)
    except (SandboxError, ft.FiletrackerError) as exc:
        print(f'sio-get-sandbox: {exc}', file=sys.stderr)
        return 1
    return 0


def publish_main(argv: list[str] | None = None) -> int:
    """``sio-publish-sandbox DIR [--name NAME]``: publish a directory as a sandbox."""
    parser = argparse.ArgumentParser(prog='sio-publish-sandbox', description=publish_main.__doc__)
    parser.add_argument('directory')
    parser.add_argument('--name', help='sandbox name (default: the directory name)')
    parser.add_argument('--url', help='filetracker URL (default: $FILETRACKER_URL)')
    args = parser.parse_args(argv)
    try:
        print(publish_sandbox(args.directory, args.name, args.url))
    except (SandboxError, ft.FiletrackerError) as exc:
        print(f'sio-publish-sandbox: {exc}', file=sys.stderr)
        return 1
    return 0
