"""The ``ft-check`` job: a filetracker round trip through this node."""

from __future__ import annotations

import hashlib
import os

from sio.workers import ft


def run(environ: dict) -> dict:
    """Downloads ``in_file`` (through the node cache), records its ``in_size``
    (bytes) and ``in_sha256``, and uploads it again to ``out_file``, which
    receives the stored versioned path.
    """
    path = ft.download(environ, 'in_file', 'in', add_to_cache=True)
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    environ['in_size'] = os.path.getsize(path)
    environ['in_sha256'] = digest.hexdigest()
    ft.upload(environ, 'out_file', path)
    return environ
