"""A filetracker client with a node-local cache, safe for many processes and threads.

It speaks filetracker's HTTP protocol (version 2, any ``filetracker-server``
2.x) and implements the part of :class:`filetracker.client.Client` that jobs
use (``get_file``, ``put_file``, ``file_version``, ``file_size``,
``delete_file``), so it can stand wherever a stock client does.  Compared with
the stock client it:

* puts a timeout on every request: a down or hung server is a clear
  :class:`FiletrackerError`, never a hang;
* writes every download to a fresh file that is renamed into place, so a job
  never shares an inode with the cache (or with an earlier job's leftover),
  and checks the size it received against the server's ``Logical-Size``;
* fills the cache atomically under a per-name ``flock``: concurrent
  requests for one file, from any process or thread, make one transfer;
* returns clean ``name@version`` strings;
* refuses an upload that the server silently ignored (it held a newer
  version), and checks the stored size after each upload;
* keeps access times for least-recently-used eviction (:meth:`trim_cache`);
* sends its misses through the node cache server registered for its cache
  directory (:mod:`sio.workers.ftcache`), when one is alive, and fetches by
  itself when none answers;
* counts hits, misses and bytes (:mod:`sio.workers.stats`).

The cache layout is the stock one (``files/<name>`` whose mtime is the version,
``locks/<name>``), so stock tools such as ``filetracker-cache-cleaner`` can
also work on it.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO
from urllib.request import pathname2url

import requests
from filetracker.client import FiletrackerError
from filetracker.utils import check_name, split_name, versioned_name

from sio.workers import stats
from sio.workers.util import pid_alive

__all__ = ['FiletrackerClient', 'UploadIgnored', 'is_missing', 'NODE_CACHE_FILE']

logger = logging.getLogger(__name__)

#: In a cache directory: which node cache server fills it (JSON: url, pid, remote_url).
NODE_CACHE_FILE = 'node-cache.json'

#: Seconds to wait for a connection / for the server between two reads.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
_CHUNK = 1 << 20
_STALE_TMP_AGE = 3600.0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class UploadIgnored(FiletrackerError):
    """The server kept a newer version (``stored``) instead of the upload."""

    def __init__(self, message: str, stored: int):
        super().__init__(message)
        self.stored = stored


class _Unreachable(FiletrackerError):
    """The server could not be connected to at all."""


class _TimedOut(FiletrackerError):
    """The server did not answer in time."""


def _copy_fd(src: int, dst: int) -> None:
    """Copy the rest of ``src`` to ``dst`` in the kernel where it can."""
    try:
        while os.sendfile(dst, src, None, _CHUNK):
            pass
    except OSError:
        while chunk := os.read(src, _CHUNK):
            os.write(dst, chunk)


def is_missing(error: Exception) -> bool:
    """Whether a :class:`FiletrackerError` says the file does not exist."""
    return isinstance(error, FiletrackerError) and str(error).startswith(('HTTP/404', 'File not available'))


def _parse_version(response: requests.Response) -> int | None:
    header = response.headers.get('last-modified')
    if not header:
        return None
    return int(email.utils.mktime_tz(email.utils.parsedate_tz(header)))


def _logical_size(response: requests.Response) -> int | None:
    if response.headers.get('content-encoding', 'identity') == 'gzip':
        value = response.headers.get('logical-size')
    else:
        value = response.headers.get('content-length')
    return int(value) if value is not None else None


class FiletrackerClient:
    """Client of a filetracker server (``remote_url``) with a cache in ``cache_dir``.

    With ``remote_url=None`` the client is local-only: the cache directory is
    the store.  ``timeout`` is ``(connect, read)`` seconds; the read timeout
    defaults to ``$SIO_FT_TIMEOUT`` or 30 s.  ``use_node_cache=False`` never
    goes through a node cache server (the server's own client).
    """

    def __init__(
        self,
        remote_url: str | None,
        cache_dir: str | os.PathLike,
        timeout: tuple[float, float] | None = None,
        use_node_cache: bool = True,
    ):
        self.remote_url = remote_url.rstrip('/') if remote_url else None
        self.cache_dir = Path(cache_dir)
        self.timeout = timeout or (
            CONNECT_TIMEOUT,
            float(os.environ.get('SIO_FT_TIMEOUT', READ_TIMEOUT)),
        )
        (self.cache_dir / 'files').mkdir(parents=True, exist_ok=True)
        (self.cache_dir / 'locks').mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.use_node_cache = use_node_cache
        self._node_key: tuple | None = None
        self._node: dict | None = None

    def __repr__(self) -> str:
        return f'FiletrackerClient({self.remote_url!r}, cache_dir={str(self.cache_dir)!r})'

    # -- HTTP --------------------------------------------------------------

    def session(self) -> requests.Session:
        """This thread's HTTP session (connections are kept alive)."""
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, name: str, version: int | None = None,
                 server: str | None = None, **kwargs):
        """Send a request for file ``name`` to ``server`` (default: the remote
        server); raise FiletrackerError on any failure."""
        url = (server or self.remote_url) + '/files' + pathname2url(name)
        if version is not None:
            kwargs['params'] = {'last_modified': email.utils.formatdate(version)}
        try:
            response = self.session().request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise _TimedOut(
                f'{method} {url}: no answer within {self.timeout} s (is the server hung?): {exc}'
            ) from None
        except requests.ConnectionError as exc:
            raise _Unreachable(f'Error making HTTP request: {method} {url}: {exc}') from None
        except requests.RequestException as exc:
            raise FiletrackerError(f'Error making HTTP request: {method} {url}: {exc}') from None
        if response.status_code >= 400:
            detail = response.headers.get('x-exception') or response.reason
            response.close()
            raise FiletrackerError(f'HTTP/{response.status_code}: {method} {name}: {detail}')
        return response

    def _receive(self, response: requests.Response, name: str, directory: Path) -> str:
        """Stream a GET's body into a new temporary file in ``directory``; check
        its size (and its SHA-256 when the server sent one).  A gzip body's
        CRC is checked while it is decoded."""
        expected = _logical_size(response)
        expected_digest = response.headers.get('sha256-checksum')
        digest = hashlib.sha256() if expected_digest else None
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.ft-')
        try:
            with os.fdopen(fd, 'wb') as out, response:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                received = out.tell()
        except requests.RequestException as exc:
            os.unlink(tmp)
            raise FiletrackerError(f'Error receiving {name}: {exc}') from None
        except BaseException:
            os.unlink(tmp)
            raise
        if expected is not None and received != expected:
            os.unlink(tmp)
            raise FiletrackerError(
                f'Truncated transfer of {name}: received {received} of {expected} bytes'
            )
        if digest is not None and digest.hexdigest() != expected_digest.lower():
            os.unlink(tmp)
            raise FiletrackerError(f'Corrupted transfer of {name}: its SHA-256 does not match')
        return tmp

    def _open_remote(self, base: str, version: int | None,
                     server: str | None = None) -> tuple[requests.Response, int]:
        # A node cache reads the version it is asked for; a central server ignores it.
        response = self._request('GET', base, version if server else None, server, stream=True)
        remote_version = _parse_version(response)
        if version is not None and remote_version is not None and remote_version != version:
            response.close()
            raise FiletrackerError(
                f'Version {versioned_name(base, version)} not available. Server has {remote_version}'
            )
        return response, remote_version if remote_version is not None else version

    # -- cache -------------------------------------------------------------

    def _cache_path(self, base: str) -> Path:
        return self.cache_dir / 'files' / base.lstrip('/')

    @contextlib.contextmanager
    def _lock(self, base: str, exclusive: bool):
        """Hold the lock of ``base``; yields whether it had to wait for it."""
        path = self.cache_dir / 'locks' / base.lstrip('/')
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                waited = False
            except BlockingIOError:
                fcntl.flock(fd, mode)
                waited = True
            yield waited
        finally:
            os.close(fd)

    def _cached_version(self, base: str) -> int | None:
        try:
            return int(self._cache_path(base).stat().st_mtime)
        except FileNotFoundError:
            return None

    def _open_if_cached(self, base: str, version: int) -> BinaryIO | None:
        """Open the cached ``base@version``, or None.  The caller holds a lock of ``base``."""
        try:
            f = open(self._cache_path(base), 'rb')
        except FileNotFoundError:
            return None
        st = os.fstat(f.fileno())
        if int(st.st_mtime) != version:
            f.close()
            return None
        # Record the use for least-recently-used eviction; mtime (the version) stays.
        with contextlib.suppress(OSError):
            os.utime(f.fileno(), ns=(time.time_ns(), st.st_mtime_ns))
        stats.count('ft_cache_hits')
        stats.count('ft_cache_hit_bytes', st.st_size)
        return f

    def _open_hit(self, base: str, version: int) -> BinaryIO | None:
        """Open the cached ``base@version`` (no network), or None on a miss."""
        with self._lock(base, exclusive=False):
            return self._open_if_cached(base, version)

    def _fill(self, name: str, version: int | None, force_refresh: bool = False
              ) -> tuple[BinaryIO, int | None]:
        """Make the cache hold ``name`` (``version``, or the current one when
        None), fetching it from the remote server on a miss, and open it.

        Concurrent fills of one name, from any process or thread of the node,
        make one transfer: the others wait for the lock and find it cached."""
        base = split_name(name)[0]
        with self._lock(base, exclusive=True) as waited:
            if version is None and waited and not force_refresh:
                # Another fill of this name ended while we waited: if it got the
                # current version, a HEAD (not a second GET) tells.
                version = self.remote_stat(base)[0]
            if version is not None and not force_refresh:
                f = self._open_if_cached(base, version)
                if f is not None:
                    return f, version
            response, version = self._open_remote(base, version)
            if not force_refresh and version is not None:
                f = self._open_if_cached(base, version)
                if f is not None:  # an unversioned name whose current version we hold
                    response.close()
                    return f, version
            tmp = self._receive(response, name, self._tmp_dir_for(base))
            try:
                # Without a version (a server that sends none) nothing is cached.
                path = self._install(tmp, base, version) if version is not None else Path(tmp)
                f = open(path, 'rb')
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)  # left only when it did not go into the cache
        size = os.fstat(f.fileno()).st_size
        stats.count('ft_cache_misses')
        stats.count('ft_cache_miss_bytes', size)
        return f, version

    def cached_size(self, base: str, version: int) -> int | None:
        """Size of the cached ``base@version``; None when not cached."""
        try:
            st = self._cache_path(base).stat()
        except FileNotFoundError:
            return None
        return st.st_size if int(st.st_mtime) == version else None

    def current_stat(self, base: str) -> tuple[int | None, int | None]:
        """The remote server's version and size of ``base`` (one ``HEAD``); the
        cached ones (counted as stale) when the server cannot be asked.  A
        missing file is an error."""
        if self.remote_url is None:
            error = FiletrackerError(f'File not available: {base}')
        else:
            try:
                return self.remote_stat(base)
            except FiletrackerError as exc:
                if is_missing(exc):
                    raise
                error = exc
        cached = self._cached_version(base)
        if cached is None:
            raise error
        if self.remote_url is not None:
            logger.warning('Serving the cached %s@%d: %s', base, cached, error)
            stats.count('ft_cache_stale')
        return cached, self.cached_size(base, cached)

    def open_cached(self, name: str) -> tuple[BinaryIO, int]:
        """Open this node's cached copy of ``name``, filling the cache on a miss;
        return the open file and its version.

        An unversioned name is the remote server's current version, or — while
        that server is down or broken — the version in the cache.
        """
        check_name(name)
        base, version = split_name(name)
        if version is None:
            version = self.current_stat(base)[0]
        f = self._open_hit(base, version)
        if f is None:
            f, version = self._fill(name, version)
        return f, version

    def _copy_out(self, src: BinaryIO, save_to: Path) -> None:
        """Copy open file ``src`` to a fresh file renamed onto ``save_to`` (never a hard link)."""
        save_to.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=save_to.parent, prefix='.ft-')
        try:
            with os.fdopen(fd, 'wb') as out:
                _copy_fd(src.fileno(), out.fileno())
            os.replace(tmp, save_to)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _install(self, tmp: str, base: str, version: int) -> Path:
        """Move a complete temporary file into the cache as ``base@version``.
        The caller holds the exclusive lock of ``base``."""
        path = self._cache_path(base)
        current = self._cached_version(base)
        if current is not None and current > version:
            return Path(tmp)  # never replace a newer entry; caller uses tmp
        os.utime(tmp, (time.time(), version))
        os.replace(tmp, path)
        return path

    def _tmp_dir_for(self, base: str) -> Path:
        directory = self._cache_path(base).parent
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    # -- the node cache server ----------------------------------------------

    def node_cache_url(self) -> str | None:
        """The URL of the node cache server filling this cache from the same
        remote server, if one is running (see :mod:`sio.workers.ftcache`)."""
        if not self.use_node_cache or self.remote_url is None:
            return None
        path = self.cache_dir / NODE_CACHE_FILE
        try:
            st = path.stat()
            key = (st.st_ino, st.st_mtime_ns)
            if key != self._node_key:
                self._node = json.loads(path.read_text())
                self._node_key = key
        except (OSError, ValueError):
            return None
        node = self._node
        if not isinstance(node, dict) or node.get('remote_url') != self.remote_url:
            return None
        return node.get('url') if pid_alive(node.get('pid')) else None

    def _get_via_node(self, node: str, name: str, version: int | None, save_to: Path) -> str:
        base = split_name(name)[0]
        response, version = self._open_remote(base, version, server=node)
        save_to.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._receive(response, name, save_to.parent), save_to)
        return versioned_name(base, version)

    # -- public API --------------------------------------------------------

    def get_file(
        self,
        name: str,
        save_to: str | os.PathLike,
        add_to_cache: bool = True,
        force_refresh: bool = False,
    ) -> str:
        """Save file ``name`` (``/path`` or ``/path@version``) to ``save_to``;
        return its versioned name.

        A versioned name found in the cache is served without the network.
        Otherwise the file comes through this node's cache server when one
        runs (it fills the shared cache), else from the remote server;
        ``add_to_cache`` then keeps a copy for later jobs on this node.
        """
        check_name(name)
        base, version = split_name(name)
        save_to = Path(save_to)
        if version is not None and not force_refresh:
            f = self._open_hit(base, version)
            if f is not None:
                with f:
                    self._copy_out(f, save_to)
                return versioned_name(base, version)
        if self.remote_url is None:
            raise FiletrackerError(f'File not available: {name} (not in the local store {self.cache_dir})')
        node = None if force_refresh else self.node_cache_url()
        if node is not None:
            try:
                return self._get_via_node(node, name, version, save_to)
            except (_Unreachable, _TimedOut) as exc:
                # Fetch it ourselves, as without a node server (a fill of the server's
                # still in progress is waited for on the file's lock, not repeated).
                logger.warning('Node cache unavailable, going to %s: %s', self.remote_url, exc)
        if not add_to_cache:
            response, version = self._open_remote(base, version)
            save_to.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._receive(response, name, save_to.parent), save_to)
            stats.count('ft_cache_misses')
            stats.count('ft_cache_miss_bytes', save_to.stat().st_size)
            return versioned_name(base, version)
        f, version = self._fill(name, version, force_refresh)
        with f:
            self._copy_out(f, save_to)  # save_to may be on another file system
        return versioned_name(base, version) if version is not None else base

    def put_file(
        self,
        name: str,
        filename: str | os.PathLike,
        to_local_store: bool = True,
        to_remote_store: bool = True,
        compress_hint: bool = False,
    ) -> str:
        """Upload local file ``filename`` as ``name``; return the stored versioned name.

        ``to_remote_store=False`` keeps the file only in this node's cache.
        ``compress_hint=True`` gzips on the client and sends its SHA-256 (less
        traffic for text, but the server then trusts the client's digest; the
        default lets the server hash what it actually received).
        """
        check_name(name)
        if not (to_local_store or to_remote_store):
            raise ValueError('put_file: to_local_store and to_remote_store are both False')
        base, version = split_name(name)
        filename = Path(filename)
        size = filename.stat().st_size
        if self.remote_url is not None and to_remote_store:
            version = self._upload(base, version, filename, size, compress_hint)
        elif version is None:
            version = int(time.time())
        if to_local_store or self.remote_url is None:
            with self._lock(base, exclusive=True):
                fd, tmp = tempfile.mkstemp(dir=self._tmp_dir_for(base), prefix='.ft-')
                os.close(fd)
                shutil.copyfile(filename, tmp)
                if self._install(tmp, base, version) == Path(tmp):
                    os.unlink(tmp)
        return versioned_name(base, version)

    def _upload(self, base: str, version: int | None, filename: Path, size: int, compress: bool) -> int:
        sent = version if version is not None else int(time.time())
        with open(filename, 'rb') as f, contextlib.ExitStack() as stack:
            headers = {}
            body = f
            if compress:
                digest = hashlib.sha256()
                body = stack.enter_context(tempfile.TemporaryFile())
                with gzip.GzipFile(fileobj=body, mode='wb') as gz:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        gz.write(chunk)
                body.seek(0)
                headers = {
                    'Content-Encoding': 'gzip',
                    'SHA256-Checksum': digest.hexdigest(),
                    'Logical-Size': str(size),
                }
            if size == 0 and not compress:
                body = b''  # requests would send an empty stream chunked; the server needs a length
            response = self._request('PUT', base, sent, data=body, headers=headers)
        stored = _parse_version(response)
        response.close()
        if stored is not None and stored != sent:
            raise UploadIgnored(
                f'Upload of {base} ignored: the server keeps its newer version {stored} '
                f'(this upload was version {sent}; clock skew or a pinned name)', stored)
        remote_size = self.remote_stat(base)[1]
        if remote_size != size:
            raise FiletrackerError(
                f'Upload of {base} stored {remote_size} bytes instead of {size}'
            )
        return sent

    def file_version(self, name: str) -> int:
        """The current version of ``name`` (its ``@version`` part is ignored)."""
        base, _ = split_name(name)
        if self.remote_url is None:
            version = self._cached_version(base)
            if version is None:
                raise FiletrackerError(f'File not available: {base}')
            return version
        return self.remote_stat(base)[0]

    def remote_stat(self, base: str) -> tuple[int | None, int]:
        """The remote server's version and size of ``base`` (one ``HEAD``)."""
        response = self._request('HEAD', base)
        response.close()
        return _parse_version(response), int(_logical_size(response) or 0)

    def file_size(self, name: str) -> int:
        """Size in bytes of ``name`` (uncompressed)."""
        base, version = split_name(name)
        if version is not None and self._cached_version(base) == version:
            return self._cache_path(base).stat().st_size
        if self.remote_url is None:
            raise FiletrackerError(f'File not available: {name}')
        return self.remote_stat(base)[1]

    def delete_file(self, name: str) -> None:
        """Delete ``name`` from the cache and from the server."""
        base, version = split_name(name)
        with self._lock(base, exclusive=True):
            with contextlib.suppress(FileNotFoundError):
                self._cache_path(base).unlink()
        if self.remote_url is not None:
            self._request('DELETE', base, version if version is not None else int(time.time())).close()

    def trim_cache(self, max_bytes: int) -> int:
        """Evict least-recently-used cache entries until at most ``max_bytes``
        remain; return the number of bytes freed.  Entries in use (locked) are
        skipped."""
        entries = []
        files = self.cache_dir / 'files'
        for root, _dirs, names in os.walk(files):
            for n in names:
                path = Path(root, n)
                if n.startswith('.ft-') and _age(path) < _STALE_TMP_AGE:
                    continue  # a transfer in progress
                with contextlib.suppress(FileNotFoundError):
                    st = path.stat()
                    entries.append((st.st_atime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _atime, size, path in sorted(entries):
            if total - freed <= max_bytes:
                break
            base = '/' + str(path.relative_to(files))
            lock = self.cache_dir / 'locks' / base.lstrip('/')
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                path.unlink()
                freed += size
            except FileNotFoundError:
                pass
            finally:
                os.close(fd)
        stats.count('ft_cache_evicted_bytes', freed)
        return freed
