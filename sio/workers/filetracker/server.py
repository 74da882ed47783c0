"""The node cache server: one per node, between its jobs and the central filetracker.

filetracker 2.x has no pull-through mode, so this is a small HTTP server of
its own.  It speaks the part of filetracker's protocol (version 2) that
clients use, so a stock ``filetracker.client.Client(remote_url=<its URL>)``
works against it:

* ``GET /files/<path>``: the file from the node's cache, fetched from the
  central server on a miss.  Concurrent misses of one file — from this
  server's threads or any job of the node — make one central transfer.  A
  file is checked as it is stored (its length against ``Logical-Size``, the
  gzip CRC of the body, and a ``SHA256-Checksum`` when one is sent).  Without
  ``?last_modified=`` the current version is asked of the central server
  with a ``HEAD``; while that server is down or broken, the cached version is
  served.  With it (sio-ray's own client sends it) a cached version is served
  without asking anyone.
* ``HEAD /files/<path>``: the same headers, no body.
* ``PUT`` and ``DELETE /files/<path>``: passed through to the central server
  (a stored upload is also kept in the node cache).
* ``GET /list/<dir>``: passed through; ``GET /version``: protocol 2.
* ``GET /stats``: hit, miss, stale and byte counters (JSON; not part of
  filetracker's protocol).

Its store is the node's shared store for the central server
(:func:`~sio.workers.filetracker.store.cache_dir_for`), the one every job's
:class:`~sio.workers.filetracker.client.FiletrackerClient` reads: a job reads a
cached versioned file straight from it (no request at all) and sends only its
misses here.  The server registers itself there
(:mod:`~sio.workers.filetracker.registry`); at most one live server is
registered per store.  It binds to loopback unless told otherwise, and keeps
the store within ``max_bytes`` by evicting the least recently used files.

:func:`~sio.workers.filetracker.cli.launch_filetracker_server` and
``sio-run-filetracker`` start one in the background unless one runs
(``cluster.yaml`` does so on every node); ``sio-run-filetracker --foreground``
is the server itself (for a system service); ``sio_ray`` runs one per node as
a Ray actor where none runs.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from filetracker.utils import check_name, split_name, versioned_name

from sio.workers import stats
from sio.workers.filetracker import protocol
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.protocol import FiletrackerError, UploadIgnored
from sio.workers.filetracker.registry import AlreadyRunning, Registry
from sio.workers.filetracker.store import cache_dir_for

__all__ = ['NodeCacheServer', 'AlreadyRunning', 'parse_size', 'default_max_bytes']

logger = logging.getLogger(__name__)

#: The cache's default bound, unless ``$SIO_FT_CACHE_SIZE`` says otherwise.
DEFAULT_MAX_BYTES = 10 << 30
_CHUNK = 1 << 20


def parse_size(text: str) -> int:
    """``'500M'``, ``'10G'``, ``'1.5GiB'``, ``'4096'`` → bytes."""
    units = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    t = text.strip().upper().removesuffix('B').removesuffix('I')
    unit = t[-1:] if t[-1:] in units else ''
    try:
        value = int(float(t[: len(t) - len(unit)]) * units[unit])
    except ValueError:
        raise ValueError(f'{text!r} is not a size such as 500M or 10G') from None
    if value <= 0:
        raise ValueError(f'{text!r} is not a positive size')
    return value


def default_max_bytes() -> int:
    """``$SIO_FT_CACHE_SIZE`` (e.g. ``20G``), else 10 GiB."""
    text = os.environ.get('SIO_FT_CACHE_SIZE')
    return parse_size(text) if text else DEFAULT_MAX_BYTES


class _HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _error_for(exc: FiletrackerError) -> _HttpError:
    """The answer to a client for a failure towards the central server: 404
    for a missing file, 502 for anything else."""
    message = exc.what if isinstance(exc, protocol.HTTPError) else str(exc)
    return _HttpError(404 if protocol.is_missing(exc) else 502, ' '.join(message.split())[:500])


class _Handler(BaseHTTPRequestHandler):
    server: NodeCacheServer
    protocol_version = 'HTTP/1.1'  # keep-alive: jobs' sessions reuse connections

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and the client's delayed ACK hold small answers for 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        logger.debug('%s %s', self.address_string(), format % args)

    # -- plumbing ------------------------------------------------------------

    def _target(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urlsplit(self.path)
        endpoint, _, rest = url.path.lstrip('/').partition('/')
        return endpoint, '/' + unquote(rest), parse_qs(url.query)

    def _send(self, status: int, body: bytes = b'', headers: dict | None = None) -> None:
        self.send_response(status)
        headers = {'Content-Type': 'text/plain', **(headers or {})}
        headers.setdefault('Content-Length', str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != 'HEAD':
            self.wfile.write(body)

    def _dispatch(self, handlers: dict) -> None:
        endpoint, path, query = self._target()
        try:
            handler = handlers.get(endpoint)
            if handler is None:
                raise _HttpError(400, f'Unknown endpoint {endpoint!r} for {self.command}')
            handler(path, query)
        except _HttpError as exc:
            self.close_connection = self.close_connection or self.command == 'PUT'
            self._send(exc.status, str(exc).encode() + b'\n', {'X-Exception': str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: answer 500 and keep serving
            logger.exception('Failed %s %s', self.command, self.path)
            message = ' '.join(f'{type(exc).__name__}: {exc}'.split())[:500]
            self.close_connection = True
            self._send(500, message.encode() + b'\n', {'X-Exception': message})

    def _name(self, path: str, query: dict) -> str:
        try:
            check_name(path)
        except ValueError as exc:
            raise _HttpError(400, f'bad file name {path!r}: {exc}') from None
        if '@' in path:
            raise _HttpError(400, f'bad file name {path!r}: a version goes in ?last_modified=')
        dates = query.get('last_modified')
        if not dates:
            return path
        try:
            return versioned_name(path, protocol.parse_http_date(dates[0]))
        except ValueError as exc:
            raise _HttpError(400, f'bad last_modified: {exc}') from None

    # -- requests ----------------------------------------------------------

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler's naming)
        self._dispatch({'files': self._get_file, 'version': self._version,
                        'list': self._list, 'stats': self._stats})

    def do_HEAD(self):  # noqa: N802
        self._dispatch({'files': self._head_file, 'version': self._version})

    def do_PUT(self):  # noqa: N802
        self._dispatch({'files': self._put_file})

    def do_DELETE(self):  # noqa: N802
        self._dispatch({'files': self._delete_file})

    def _version(self, _path, _query):
        self._send(200, b'{"protocol_versions": [2]}', {'Content-Type': 'application/json'})

    def _stats(self, _path, _query):
        body = json.dumps(self.server.describe(), sort_keys=True).encode()
        self._send(200, body, {'Content-Type': 'application/json'})

    def _get_file(self, path, query):
        name = self._name(path, query)
        try:
            f, version = self.server.client.open_cached(name)
        except FiletrackerError as exc:
            raise _error_for(exc) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            self._send(200, headers={
                'Content-Type': 'application/octet-stream', 'Content-Length': str(size),
                'Logical-Size': str(size), 'Last-Modified': protocol.http_date(version)})
            if self.command == 'GET' and size:
                self.wfile.flush()
                self.connection.sendfile(f)

    def _head_file(self, path, query):
        base, version = split_name(self._name(path, query))
        client = self.server.client
        try:
            if version is None:  # the central server's answer, or the cache's while it is down
                version, size = client.current_stat(base)
            else:
                size = client.cached_size(base, version)
                if size is None:  # not here: the central server's answer
                    version, size = client.remote_stat(base)
        except FiletrackerError as exc:
            raise _error_for(exc) from None
        self._send(200, headers={
            'Content-Type': 'application/octet-stream', 'Content-Length': str(size),
            'Logical-Size': str(size), 'Last-Modified': protocol.http_date(version)})

    def _list(self, path, query):
        client = self.server.client
        try:
            response = client.session().get(
                client.remote_url + '/list' + path, params={k: v[0] for k, v in query.items()},
                timeout=client.timeout)
        except Exception as exc:
            raise _HttpError(502, f'listing {path} at the central server failed: {exc}') from None
        self._send(response.status_code, response.content,
                   {k: v for k, v in response.headers.items()
                    if k.lower() in ('content-type', 'x-exception')})

    def _receive_upload(self, name: str, directory: Path) -> str:
        """The PUT body, decompressed and checked, in a new temporary file."""
        length = self.headers.get('Content-Length')
        if length is None or not length.isdigit():
            raise _HttpError(411, 'PUT needs a Content-Length')
        remaining = int(length)
        gzipped = self.headers.get('Content-Encoding', 'identity') == 'gzip'
        expected_digest = self.headers.get('SHA256-Checksum')
        logical = self.headers.get('Logical-Size')
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.ft-put-')
        try:
            with os.fdopen(fd, 'w+b') as raw:
                while remaining:
                    chunk = self.rfile.read(min(_CHUNK, remaining))
                    if not chunk:
                        raise _HttpError(400, f'the upload of {name} ended early')
                    raw.write(chunk)
                    remaining -= len(chunk)
                if gzipped:
                    raw.seek(0)
                    with open(tmp + '.plain', 'wb') as plain, gzip.GzipFile(fileobj=raw) as gz:
                        shutil.copyfileobj(gz, plain, _CHUNK)
            if gzipped:
                os.replace(tmp + '.plain', tmp)
            size = os.stat(tmp).st_size
            if logical is not None and logical.isdigit() and int(logical) != size:
                raise _HttpError(400, f'the upload of {name} has {size} bytes, not {logical}')
            if expected_digest:
                with open(tmp, 'rb') as f:
                    digest = hashlib.file_digest(f, 'sha256').hexdigest()
                if digest != expected_digest.lower():
                    raise _HttpError(400, f'the upload of {name} does not match its SHA256-Checksum')
            return tmp
        except (OSError, EOFError) as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise _HttpError(400, f'the upload of {name} is not valid: {exc}') from None
        except BaseException:
            for leftover in (tmp, tmp + '.plain'):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            raise

    def _put_file(self, path, query):
        name = self._name(path, query)
        if split_name(name)[1] is None:
            raise _HttpError(400, '"?last_modified=" is required')
        client = self.server.client
        tmp = self._receive_upload(name, client.store.tmp_dir(path))
        try:
            stored = split_name(client.put_file(name, tmp))[1]
        except UploadIgnored as exc:
            stored = exc.stored  # as the central server answers: its newer version
        except FiletrackerError as exc:
            raise _error_for(exc) from None
        finally:
            os.unlink(tmp)
        self._send(200, headers={'Last-Modified': protocol.http_date(stored)})

    def _delete_file(self, path, query):
        name = self._name(path, query)
        try:
            self.server.client.delete_file(name)
        except FiletrackerError as exc:
            raise _error_for(exc) from None
        self._send(200)


class NodeCacheServer(ThreadingHTTPServer):
    """A node cache server for the central server at ``remote_url``.

    ``cache_dir`` defaults to the node's shared store for that URL.  Use it as
    a context manager, or :meth:`start` and :meth:`close`.
    """

    daemon_threads = True

    def __init__(self, remote_url: str, cache_dir: str | os.PathLike | None = None,
                 host: str = '127.0.0.1', port: int = 0, max_bytes: int | None = None,
                 trim_interval: float = 60.0):
        if not remote_url or not remote_url.startswith(('http://', 'https://')):
            raise ValueError(f'remote_url: {remote_url!r} is not an http(s) URL')
        super().__init__((host, port), _Handler)
        self.client = FiletrackerClient(remote_url, cache_dir or cache_dir_for(remote_url),
                                        use_node_cache=False)
        self.registry = Registry(self.client.cache_dir)
        self.max_bytes = max_bytes if max_bytes is not None else default_max_bytes()
        self.trim_interval = trim_interval
        self.started = time.time()
        self._workers: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f'http://{host}:{port}'

    def describe(self) -> dict:
        """Where it runs and what it did (``/stats``)."""
        return {'url': self.url, 'remote_url': self.client.remote_url, 'pid': os.getpid(),
                'cache_dir': str(self.client.cache_dir), 'max_bytes': self.max_bytes,
                'uptime_s': round(time.time() - self.started, 3), 'counters': stats.totals()}

    def start(self) -> NodeCacheServer:
        """Register (unless another live server is registered: :class:`AlreadyRunning`)
        and serve in background threads."""
        try:
            self.registry.register(self.url, self.client.remote_url, self.started)
        except BaseException:
            self.server_close()
            raise
        for target in (self.serve_forever, self._keep_within_bound):
            thread = threading.Thread(target=target, name=f'sio-ft-cache-{target.__name__}',
                                      daemon=True)
            thread.start()
            self._workers.append(thread)
        logger.info('Node cache for %s at %s (cache %s, at most %d bytes)',
                    self.client.remote_url, self.url, self.client.cache_dir, self.max_bytes)
        return self

    def close(self) -> None:
        """Stop serving and unregister."""
        self._stop.set()
        if self._workers:
            self.shutdown()
        self.server_close()
        for thread in self._workers:
            thread.join(5)
        self.registry.unregister(self.url)

    def handle_error(self, request, client_address) -> None:
        """A client that went away (e.g. one that stopped waiting) is not an error."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            logger.debug('%s went away', client_address)
            return
        super().handle_error(request, client_address)

    def __enter__(self) -> NodeCacheServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _keep_within_bound(self) -> None:
        """Evict least-recently-used files: every ``trim_interval`` seconds, and
        soon after a twentieth of the bound was fetched."""
        fetched_at_trim = -1.0
        last_trim = 0.0
        while not self._stop.wait(1.0):
            fetched = stats.totals().get('ft_cache_miss_bytes', 0)
            due = time.monotonic() - last_trim >= self.trim_interval
            if due or fetched - fetched_at_trim > self.max_bytes / 20:
                try:
                    freed = self.client.trim_cache(self.max_bytes)
                except OSError:
                    logger.exception('Trimming %s failed', self.client.cache_dir)
                    freed = 0
                if freed:
                    logger.info('Evicted %d bytes from %s', freed, self.client.cache_dir)
                fetched_at_trim, last_trim = fetched, time.monotonic()
