"""What jobs call: download and upload the files an environ names.

Every job of a node shares one filetracker client per server URL and one
store, ``$SIO_FT_CACHE_DIR/ft_cache_<md5(url)>`` (default base
``~/.filetracker_cache``, as upstream), safe across processes and threads
(:mod:`~sio.workers.filetracker.client`), filled by the node's cache server
when one runs (:mod:`~sio.workers.filetracker.server`,
:func:`launch_filetracker_server`).  Jobs use it through the
upstream-compatible face :mod:`sio.workers.ft`.

``environ['use_filetracker']`` selects how paths in the environ are read:

* ``True`` (default): they are filetracker paths;
* ``False``: they are local paths, relative to the directory the process
  started in; files are copied;
* ``'auto'``: a path starting with ``/`` is a filetracker path, any other a
  local one (``sio-compile`` uses this).

The clients are this module's one cache: :func:`reset` forgets them (tests
call it between tests).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from typing import Any

from filetracker.utils import split_name

import sio.workers
from sio.workers.filetracker.cli import launch_filetracker_server
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.protocol import FiletrackerError
from sio.workers.filetracker.store import cache_dir_for
from sio.workers.util import tempcwd

__all__ = [
    'download', 'download_path', 'upload', 'upload_path', 'instance', 'set_instance',
    'init_instance', 'reset', 'unversioned', 'cache_dir_for', 'launch_filetracker_server',
    'node_cache_url', 'FiletrackerClient', 'FiletrackerError',
]

logger = logging.getLogger(__name__)

_clients: dict[str, FiletrackerClient] = {}
_lock = threading.Lock()
_local = threading.local()
#: Raised by :func:`reset`: a thread's chosen client from before counts no more.
_generation = 0


def _client_for(url: str | None) -> FiletrackerClient:
    key = url or ''
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = FiletrackerClient(url, cache_dir_for(url))
        return client


def _choose(client: Any) -> Any:
    _local.client, _local.generation = client, _generation
    return client


def init_instance(url: str) -> FiletrackerClient:
    """Make the node's client for ``url`` this thread's client and return it."""
    return _choose(_client_for(url))


def set_instance(client: Any) -> None:
    """Use ``client`` (any object with the filetracker ``Client`` methods, e.g.
    ``filetracker.client.dummy.DummyClient``) in this thread."""
    _choose(client)


def instance() -> Any:
    """This thread's filetracker client.

    Unless :func:`init_instance` or :func:`set_instance` chose one, it is the
    client for ``$FILETRACKER_URL`` (or a local-only store without it)."""
    if getattr(_local, 'generation', None) != _generation:
        return _choose(_client_for(os.environ.get('FILETRACKER_URL') or None))
    return _local.client


def reset() -> None:
    """Forget every client: the next use in any thread makes a new one, from
    the environment as it is then (``$SIO_FT_CACHE_DIR``, ``$FILETRACKER_URL``...)."""
    global _generation
    with _lock:
        _clients.clear()
        _generation += 1


def node_cache_url(url: str | None = None) -> str | None:
    """The URL of this node's cache server for the central server ``url``
    (default ``$FILETRACKER_URL``), if one runs."""
    url = url or os.environ.get('FILETRACKER_URL') or None
    return _client_for(url).node_cache_url() if url else None


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


def unversioned(path: str) -> str:
    """``path`` without its ``@version`` (:func:`filetracker.utils.split_name`);
    a path that is no versioned filetracker name is returned as it is."""
    try:
        return split_name(path)[0]
    except ValueError:  # not a filetracker name (a local path may hold '@')
        return path


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
        dest = os.path.basename(unversioned(source))
    elif dest.endswith('/'):
        dest = dest + os.path.basename(unversioned(source))
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
    dest = unversioned(dest)
    if _uses_filetracker(environ, dest):
        logger.debug('Uploading %s to %s', source, dest)
        return instance().put_file(dest, source, **kwargs)
    target = os.path.join(sio.workers._original_cwd, dest)
    os.makedirs(os.path.dirname(target) or '.', exist_ok=True)
    shutil.copy(source, target)  # with its mode: compiled programs stay executable
    return dest
