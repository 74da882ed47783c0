"""Results the driver makes itself, for jobs that did not run to their end.

They are built by :func:`sio.workers.results.failure`, the one builder of
``result: FAILURE`` (the runner's too), re-exported here for ``sio_ray``.
"""

from __future__ import annotations

from sio.workers.results import FAILURE, SUCCESS, failure

__all__ = ['failure', 'FAILURE', 'SUCCESS']
