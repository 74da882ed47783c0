"""A filetracker client with a node-local store, safe for many processes and threads.

It speaks filetracker's HTTP protocol (version 2, any ``filetracker-server``
2.x) and implements the part of :class:`filetracker.client.Client` that jobs
use (``get_file``, ``put_file``, ``file_version``, ``file_size``,
``delete_file``), so it can stand wherever a stock client does.  Compared with
the stock client it:

* puts a timeout on every request: a down or hung server is a clear
  :class:`~sio.workers.filetracker.protocol.FiletrackerError`, never a hang;
* writes every download to a fresh file that is renamed into place, so a job
  never shares an inode with the store (or with an earlier job's leftover),
  and checks the size it received against the server's ``Logical-Size``;
* fills the store atomically under a per-name lock: concurrent requests for
  one file, from any process or thread, make one transfer;
* returns clean ``name@version`` strings;
* refuses an upload that the server silently ignored (it held a newer
  version), and checks the stored size after each upload;
* keeps access times for least-recently-used eviction (:meth:`trim_cache`);
* sends its misses through the node cache server registered for its store
  (:mod:`~sio.workers.filetracker.registry`), when one is alive, and fetches
  by itself when none answers;
* counts hits, misses and bytes (:mod:`sio.workers.stats`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

import requests
import urllib3
from filetracker.utils import check_name, split_name, versioned_name

from sio.workers import stats
from sio.workers.filetracker import protocol
from sio.workers.filetracker.protocol import (FileMissing, FiletrackerError, TimedOut,
                                              Unreachable, UploadIgnored)
from sio.workers.filetracker.registry import Registry
from sio.workers.filetracker.store import TMP_PREFIX, CacheStore, copy_fd

__all__ = ['FiletrackerClient', 'CONNECT_TIMEOUT', 'READ_TIMEOUT']

logger = logging.getLogger(__name__)

#: Seconds to wait for a connection / for the server between two reads.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
_CHUNK = 1 << 20
#: Requests sent once more when the server closed the connection without
#: answering (they change nothing on the server).
_RESENDABLE = frozenset({'GET', 'HEAD'})


class FiletrackerClient:
    """Client of a filetracker server (``remote_url``) with its store in ``cache_dir``.

    With ``remote_url=None`` the client is local-only: the store is all there
    is.  ``timeout`` is ``(connect, read)`` seconds; the read timeout defaults
    to ``$SIO_FT_TIMEOUT`` or 30 s.  ``use_node_cache=False`` never goes
    through a node cache server (the server's own client).
    """

    def __init__(
        self,
        remote_url: str | None,
        cache_dir: str | os.PathLike,
        timeout: tuple[float, float] | None = None,
        use_node_cache: bool = True,
    ):
        self.remote_url = remote_url.rstrip('/') if remote_url else None
        self.store = CacheStore(cache_dir)
        self.timeout = timeout or (
            CONNECT_TIMEOUT,
            float(os.environ.get('SIO_FT_TIMEOUT', READ_TIMEOUT)),
        )
        self._local = threading.local()
        self.use_node_cache = use_node_cache
        self.registry = Registry(cache_dir)

    @property
    def cache_dir(self) -> Path:
        """The directory of this client's store."""
        return self.store.root

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
                 server: str | None = None, **kwargs) -> requests.Response:
        """Send a request for file ``name`` to ``server`` (default: the remote
        server); a failure is a :class:`FiletrackerError` of its kind."""
        url = protocol.file_url(server or self.remote_url, name)
        if version is not None:
            kwargs['params'] = {'last_modified': protocol.http_date(version)}
        try:
            try:
                response = self.session().request(method, url, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as exc:
                if method not in _RESENDABLE or not _dropped_unanswered(exc):
                    raise
                # A kept-alive connection the server closed (gunicorn: after
                # 2 s idle) as the request went out: once more, on a new one.
                response = self.session().request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise TimedOut(
                f'{method} {url}: no answer within {self.timeout} s (is the server hung?): {exc}'
            ) from None
        except requests.ConnectionError as exc:
            raise Unreachable(f'Error making HTTP request: {method} {url}: {exc}') from None
        except requests.RequestException as exc:
            raise FiletrackerError(f'Error making HTTP request: {method} {url}: {exc}') from None
        if response.status_code >= 400:
            detail = response.headers.get('x-exception') or response.reason
            response.close()
            raise protocol.status_error(response.status_code, method, name, detail)
        return response

    def _receive(self, response: requests.Response, name: str, directory: Path) -> str:
        """Stream a GET's body into a new temporary file in ``directory``; check
        its size (and its SHA-256 when the server sent one).  A gzip body's
        CRC is checked while it is decoded."""
        expected = protocol.logical_size(response)
        expected_digest = response.headers.get('sha256-checksum')
        digest = hashlib.sha256() if expected_digest else None
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
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
        remote_version = protocol.response_version(response)
        if version is not None and remote_version is not None and remote_version != version:
            response.close()
            raise FiletrackerError(
                f'Version {versioned_name(base, version)} not available. Server has {remote_version}'
            )
        return response, remote_version if remote_version is not None else version

    # -- the store ---------------------------------------------------------

    def _open_hit(self, base: str, version: int) -> BinaryIO | None:
        """Open the stored ``base@version`` (no network), or None on a miss."""
        with self.store.lock(base, exclusive=False):
            return self.store.open(base, version)

    def _fill(self, name: str, version: int | None, force_refresh: bool = False
              ) -> tuple[BinaryIO, int | None]:
        """Make the store hold ``name`` (``version``, or the current one when
        None), fetching it from the remote server on a miss, and open it.

        Concurrent fills of one name, from any process or thread of the node,
        make one transfer: the others wait for the lock and find it stored."""
        base = split_name(name)[0]
        with self.store.lock(base, exclusive=True) as waited:
            if version is None and waited and not force_refresh:
                # Another fill of this name ended while we waited: if it got the
                # current version, a HEAD (not a second GET) tells.
                version = self.remote_stat(base)[0]
            if version is not None and not force_refresh:
                f = self.store.open(base, version)
                if f is not None:
                    return f, version
            response, version = self._open_remote(base, version)
            if not force_refresh and version is not None:
                f = self.store.open(base, version)
                if f is not None:  # an unversioned name whose current version we hold
                    response.close()
                    return f, version
            tmp = self._receive(response, name, self.store.tmp_dir(base))
            try:
                # Without a version (a server that sends none) nothing is stored.
                path = self.store.install(tmp, base, version) if version is not None else Path(tmp)
                f = open(path, 'rb')
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)  # left only when it did not go into the store
        size = os.fstat(f.fileno()).st_size
        stats.count('ft_cache_misses')
        stats.count('ft_cache_miss_bytes', size)
        return f, version

    def cached_size(self, base: str, version: int) -> int | None:
        """Size of the stored ``base@version``; None when not stored."""
        return self.store.size(base, version)

    def current_stat(self, base: str) -> tuple[int | None, int | None]:
        """The remote server's version and size of ``base`` (one ``HEAD``); the
        stored ones (counted as stale) when the server cannot be asked.  A
        missing file is an error."""
        if self.remote_url is None:
            error = FileMissing(f'File not available: {base} (not in the local store)')
        else:
            try:
                return self.remote_stat(base)
            except FileMissing:
                raise
            except FiletrackerError as exc:
                error = exc
        cached = self.store.version(base)
        if cached is None:
            raise error
        if self.remote_url is not None:
            logger.warning('Serving the cached %s@%d: %s', base, cached, error)
            stats.count('ft_cache_stale')
        return cached, self.store.size(base, cached)

    def open_cached(self, name: str) -> tuple[BinaryIO, int]:
        """Open this node's stored copy of ``name``, filling the store on a
        miss; return the open file and its version.

        An unversioned name is the remote server's current version, or — while
        that server is down or broken — the version in the store.
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
        fd, tmp = tempfile.mkstemp(dir=save_to.parent, prefix=TMP_PREFIX)
        try:
            with os.fdopen(fd, 'wb') as out:
                copy_fd(src.fileno(), out.fileno())
            os.replace(tmp, save_to)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- the node cache server ----------------------------------------------

    def node_cache_url(self) -> str | None:
        """The URL of the node cache server filling this store from the same
        remote server, if one is running."""
        if not self.use_node_cache or self.remote_url is None:
            return None
        return self.registry.live_url(self.remote_url)

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

        A versioned name found in the store is served without the network.
        Otherwise the file comes through this node's cache server when one
        runs (it fills the shared store), else from the remote server;
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
            raise FileMissing(
                f'File not available: {name} (not in the local store {self.cache_dir})')
        node = None if force_refresh else self.node_cache_url()
        if node is not None:
            try:
                return self._get_via_node(node, name, version, save_to)
            except (Unreachable, TimedOut) as exc:
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

        ``to_remote_store=False`` keeps the file only in this node's store.
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
            with self.store.lock(base, exclusive=True):
                fd, tmp = tempfile.mkstemp(dir=self.store.tmp_dir(base), prefix=TMP_PREFIX)
                os.close(fd)
                shutil.copyfile(filename, tmp)
                if self.store.install(tmp, base, version) == Path(tmp):
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
        stored = protocol.response_version(response)
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
            version = self.store.version(base)
            if version is None:
                raise FileMissing(f'File not available: {base} (not in the local store)')
            return version
        return self.remote_stat(base)[0]

    def remote_stat(self, base: str) -> tuple[int | None, int]:
        """The remote server's version and size of ``base`` (one ``HEAD``)."""
        response = self._request('HEAD', base)
        response.close()
        return protocol.response_version(response), int(protocol.logical_size(response) or 0)

    def file_size(self, name: str) -> int:
        """Size in bytes of ``name`` (uncompressed)."""
        base, version = split_name(name)
        if version is not None:
            size = self.store.size(base, version)
            if size is not None:
                return size
        if self.remote_url is None:
            raise FileMissing(f'File not available: {name} (not in the local store)')
        return self.remote_stat(base)[1]

    def delete_file(self, name: str) -> None:
        """Delete ``name`` from the store and from the server."""
        base, version = split_name(name)
        self.store.remove(base)
        if self.remote_url is not None:
            self._request('DELETE', base, version if version is not None else int(time.time())).close()

    def trim_cache(self, max_bytes: int) -> int:
        """Evict least-recently-used entries of the store until at most
        ``max_bytes`` remain; return the number of bytes freed."""
        return self.store.trim(max_bytes)


def _dropped_unanswered(exc: requests.ConnectionError) -> bool:
    """Whether the connection broke after it was made and before any answer
    (not: nobody listens, a connect timeout)."""
    return any(isinstance(arg, urllib3.exceptions.ProtocolError) for arg in exc.args)
