"""A driver's session with Ray: the connection and the dispatcher it owns.

:func:`sio_ray.connect` returns the process's :class:`Session` (making one on
first use, or when Ray was shut down or started again under it);
:func:`sio_ray.shutdown` stops it.  Every job of the process goes through the
session's :class:`~sio_ray.dispatcher.Dispatcher`.
"""

from __future__ import annotations

import ray

from sio_ray.dispatcher import Dispatcher


class Session:
    """This process's connection to one Ray cluster and its dispatcher."""

    def __init__(self, owns_ray: bool, window: int | None = None, context=None):
        #: Whether Ray was started by :func:`sio_ray.connect` (and stops with the session).
        self.owns_ray = owns_ray
        #: The Ray job id of this driver.
        self.job_id = ray.get_runtime_context().get_job_id()
        #: The session's :class:`~sio_ray.dispatcher.Dispatcher`: its queue and window.
        self.dispatcher = Dispatcher(window)
        self._context = context  # what ray.init() returned

    @property
    def dashboard_url(self) -> str:
        """The dashboard of this session's Ray (``http://...``), or ``(no dashboard)``."""
        if self._context is None:  # a Ray initialised by the caller: ask it again
            self._context = ray.init(ignore_reinit_error=True)
        url = getattr(self._context, 'dashboard_url', None)
        return f'http://{url}' if url else '(no dashboard)'

    @property
    def gcs_address(self) -> str:
        return ray.get_runtime_context().gcs_address

    @property
    def alive(self) -> bool:
        """Whether this session still serves: its Ray is the one this process
        is connected to, and its dispatcher runs."""
        return ray.is_initialized() and not self.dispatcher.stopped and \
            ray.get_runtime_context().get_job_id() == self.job_id

    def close(self) -> None:
        """Stop the dispatcher: jobs still queued or in flight come back as FAILURE."""
        self.dispatcher.stop()

    def __repr__(self) -> str:
        return f'<sio_ray.Session driver {self.job_id} {"alive" if self.alive else "closed"}>'
