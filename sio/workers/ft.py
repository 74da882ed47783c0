"""Filetracker helpers for jobs: download and upload the files an environ names.

Every job of a node shares one filetracker client per server URL and one cache
directory, ``$SIO_FT_CACHE_DIR/ft_cache_<md5(url)>`` (default base
``~/.filetracker_cache``, as upstream), safe across processes and threads
(see :mod:`sio.workers.ftclient`), filled by the node's cache server when one
runs (:mod:`sio.workers.ftcache`, :func:`launch_filetracker_server`).

``environ['use_filetracker']`` selects how paths in the environ are read:

* ``True`` (default): they are filetracker paths;
* ``False``: they are local paths, relative to the directory the process
  started in; files are copied;
* ``'auto'``: a path starting with ``/`` is a filetracker path, any other a
  local one (``sio-compile`` uses this).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import select
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import sio.workers
from sio.workers.ftclient import FiletrackerClient, FiletrackerError  # noqa: F401 (re-exported)
from sio.workers.util import tempcwd

__all__ = [
    'download', 'download_path', 'upload', 'upload_path', 'instance', 'set_instance', 'init_instance',
    'cache_dir_for', 'launch_filetracker_server', 'node_cache_url',
]

logger = logging.getLogger(__name__)

_clients: dict[str, FiletrackerClient] = {}
_clients_lock = threading.Lock()
_local = threading.local()


def cache_dir_for(url: str | None) -> Path:
    """This node's shared cache directory for the filetracker server at ``url``.

    Without a URL it is the local-only store ``$FILETRACKER_DIR`` (default
    ``~/.filetracker-store``), as with a stock client."""
    if not url:
        return Path(os.environ.get('FILETRACKER_DIR') or Path.home() / '.filetracker-store')
    base = os.environ.get('SIO_FT_CACHE_DIR') or Path.home() / '.filetracker_cache'
    return Path(base) / ('ft_cache_' + hashlib.md5(url.encode()).hexdigest())


def _client_for(url: str | None) -> FiletrackerClient:
    key = url or ''
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = FiletrackerClient(url, cache_dir_for(url))
        return client


def init_instance(url: str) -> FiletrackerClient:
    """Make the node's client for ``url`` this thread's client and return it."""
    client = _client_for(url)
    _local.client = client
    return client


def set_instance(client: Any) -> None:
    """Use ``client`` (any object with the filetracker ``Client`` methods, e.g.
    ``filetracker.client.dummy.DummyClient``) in this thread."""
    _local.client = client


def instance() -> Any:
    """This thread's filetracker client.

    Unless :func:`init_instance` or :func:`set_instance` chose one, it is the
    client for ``$FILETRACKER_URL`` (or a local-only store without it)."""
    client = getattr(_local, 'client', None)
    if client is None:
        client = _local.client = _client_for(os.environ.get('FILETRACKER_URL') or None)
    return client


def _uses_filetracker(environ: dict, path: str) -> bool:
    mode = environ.get('use_filetracker', True)
    if mode == 'auto':
        return path.startswith('/')
    if isinstance(mode, bool):
        return mode
    raise ValueError(f"environ['use_filetracker']: {mode!r} is not True, False or 'auto'")


def _job_path(path: str | os.PathLike) -> str:
    """``path`` inside the current job directory (or the working directory outside a job)."""
    try:
        return tempcwd(path)
    except RuntimeError:
        return os.path.abspath(path)


def _source(environ: dict, key: str) -> str:
    try:
        value = environ[key]
    except KeyError:
        raise KeyError(f'environ[{key!r}] is required but missing') from None
    if not isinstance(value, str) or not value:
        raise ValueError(f'environ[{key!r}]: {value!r} is not a file path')
    return value


def _basename(path: str) -> str:
    return os.path.basename(re.sub(r'@\d+$', '', path))


def download(environ: dict, key: str, dest: str | None = None, skip_if_exists: bool = False,
             **kwargs) -> str:
    """Download the file named by ``environ[key]``; return its absolute local path.

    ``dest`` defaults to the file's basename; a ``dest`` ending with ``/`` is a
    directory that receives the basename.  Relative paths are inside the job
    directory.  With ``skip_if_exists`` an existing ``dest`` is kept as it is.
    ``kwargs`` go to the client's ``get_file`` (``add_to_cache=True`` keeps a
    copy in the node cache for later jobs).
    """
    return download_path(environ, _source(environ, key), dest, skip_if_exists, **kwargs)


def download_path(environ: dict, source: str, dest: str | None = None,
                  skip_if_exists: bool = False, **kwargs) -> str:
    """:func:`download` of a path given directly (e.g. one of a dict of extra
    files), read in the environ's ``use_filetracker`` mode."""
    if dest is None:
        dest = _basename(source)
    elif dest.endswith('/'):
        dest = dest + _basename(source)
    dest = _job_path(dest)
    if skip_if_exists and os.path.exists(dest):
        return dest
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if _uses_filetracker(environ, source):
        kwargs.setdefault('add_to_cache', False)
        logger.debug('Downloading %s to %s', source, dest)
        instance().get_file(source, dest, **kwargs)
    else:
        local = os.path.join(sio.workers._original_cwd, source)
        if not (os.path.exists(dest) and os.path.samefile(local, dest)):
            shutil.copyfile(local, dest)
    return dest


def upload(environ: dict, key: str, source: str | os.PathLike, dest: str | None = None,
           **kwargs) -> str:
    """Upload local file ``source`` (relative to the job directory) to the path
    in ``environ[key]``, or to ``dest`` when the environ lacks ``key``.

    The stored, versioned path is written back into ``environ[key]`` and
    returned.  A version already in the destination is dropped: an upload
    always makes a new version.  ``kwargs`` go to the client's ``put_file``
    (``to_remote_store=False`` keeps the file only in the node cache).
    """
    if key in environ:
        dest = _source(environ, key)
    elif dest is None:
        raise KeyError(f'environ[{key!r}] is missing and no dest was given for the upload')
    environ[key] = upload_path(environ, source, dest, **kwargs)
    return environ[key]


def upload_path(environ: dict, source: str | os.PathLike, dest: str, **kwargs) -> str:
    """:func:`upload` to a path given directly; returns the stored path and
    leaves the environ as it is (only its ``use_filetracker`` mode counts)."""
    source = _job_path(source)
    if dest.endswith('/'):
        dest = dest + os.path.basename(source)
    dest = re.sub(r'@\d+$', '', dest)
    if _uses_filetracker(environ, dest):
        logger.debug('Uploading %s to %s', source, dest)
        return instance().put_file(dest, source, **kwargs)
    target = os.path.join(sio.workers._original_cwd, dest)
    os.makedirs(os.path.dirname(target) or '.', exist_ok=True)
    shutil.copy(source, target)  # with its mode: compiled programs stay executable
    return dest


def node_cache_url(url: str | None = None) -> str | None:
    """The URL of this node's cache server for the central server ``url``
    (default ``$FILETRACKER_URL``), if one runs."""
    url = url or os.environ.get('FILETRACKER_URL') or None
    return _client_for(url).node_cache_url() if url else None


def launch_filetracker_server(url: str | None = None, max_cache_bytes: int | None = None,
                              timeout: float = 30.0, listen: str = '127.0.0.1',
                              port: int = 0) -> str | None:
    """Make sure this node's cache server for the central server ``url``
    (default ``$FILETRACKER_URL``) runs; return its URL.  Without a central
    server (no ``url``, no ``$FILETRACKER_URL``) there is nothing to cache:
    nothing starts and the result is None.

    It is not a stock ``filetracker-server`` (which cannot pull through) but
    :class:`sio.workers.ftcache.NodeCacheServer`, started in the background
    (``sio-run-filetracker --foreground`` in a session of its own, logging to
    ``node-cache.log`` in the cache directory, bound to ``listen:port``, any
    free port by default) unless one is already registered.
    """
    url = url or os.environ.get('FILETRACKER_URL') or None
    if not url:
        logger.info('No central filetracker server configured: no node cache server to start')
        return None
    running = node_cache_url(url)
    if running:
        return running
    cache_dir = cache_dir_for(url)
    argv = [sys.executable, '-m', 'sio.workers.ftcache', '--foreground', '--url', url,
            '--listen', listen, '--port', str(port)]
    if max_cache_bytes is not None:
        argv += ['--max-size', str(max_cache_bytes)]
    with open(cache_dir / 'node-cache.log', 'ab') as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=log, start_new_session=True)
    with process.stdout:
        ready = select.select([process.stdout], [], [], timeout)[0]
        line = process.stdout.readline().decode().strip() if ready else ''
    if not line.startswith('http'):
        process.kill()
        process.wait()
        tail = (cache_dir / 'node-cache.log').read_text(errors='replace')[-2000:]
        raise RuntimeError(f'the node cache server did not start within {timeout} s: {tail}')
    return line
