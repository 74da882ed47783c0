"""Filetracker helpers for jobs, as upstream sioworkers named them.

This is the face of :mod:`sio.workers.filetracker` that jobs and plugins
use: ``ft.download``, ``ft.upload``, ``ft.instance``,
``ft.launch_filetracker_server`` and the rest of
:mod:`sio.workers.filetracker.api`, under the names upstream plugins import.
"""

from sio.workers.filetracker.api import (  # noqa: F401 (the face)
    FiletrackerClient, FiletrackerError, cache_dir_for, download, download_path, init_instance,
    instance, launch_filetracker_server, node_cache_url, reset, set_instance, unversioned, upload,
    upload_path,
)

__all__ = [
    'download', 'download_path', 'upload', 'upload_path', 'instance', 'set_instance',
    'init_instance', 'reset', 'unversioned', 'cache_dir_for', 'launch_filetracker_server',
    'node_cache_url', 'FiletrackerClient', 'FiletrackerError',
]
