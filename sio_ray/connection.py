"""Connecting the driver to Ray: an existing cluster, or a local one started on demand."""

from __future__ import annotations

import atexit
import threading

import ray

from sio.workers import settings
from sio_ray import tags
from sio_ray.registry import NAMESPACE
from sio_ray.session import Session

_lock = threading.Lock()
_session: Session | None = None
_hooked = False


def connect(address: str | None = None, **init_kwargs) -> Session:
    """This process's :class:`~sio_ray.session.Session`, connecting to Ray first
    if need be.

    With ``address`` (or ``$RAY_ADDRESS``) it joins that cluster; otherwise it
    starts a local one whose only node is tagged by probing this machine
    (:mod:`sio_ray.tags`).  A Ray this process initialised itself is used as
    it is.  Token authentication stays as Ray configures it.
    """
    global _session, _hooked
    with _lock:
        if _session is not None and _session.alive:
            return _session
        if _session is not None:  # Ray was shut down or started again under it
            _session.close()
            _session = None
        owns = False
        if not ray.is_initialized():
            address = address or settings.RAY_ADDRESS.get()
            kwargs = {'namespace': NAMESPACE, 'log_to_driver': False, **init_kwargs}
            if address is None:
                # 'local' always starts a Ray of our own (never joins one found on the machine).
                address = 'local'
                kwargs.setdefault('labels', tags.node_labels())
                kwargs.setdefault('resources', tags.node_resources())
            ray.init(address=address, **kwargs)
            owns = address == 'local'
        _session = Session(owns_ray=owns)
        if not _hooked:
            # Runs before Ray's own exit hook (registered earlier): the dispatcher
            # thread must not touch Ray once it is shut down.
            atexit.register(_close_session)
            _hooked = True
        return _session


def _close_session() -> None:
    global _session
    with _lock:
        if _session is not None:
            _session.close()
            _session = None


def shutdown() -> None:
    """Stop this driver's session (its unfinished jobs come back as FAILURE),
    then disconnect from Ray (a local Ray started by :func:`connect` stops)."""
    _close_session()
    with _lock:
        ray.shutdown()


def dashboard_url() -> str:
    """The dashboard of the Ray this process is connected to, or ``(no dashboard)``."""
    from ray._private import worker
    url = worker.get_dashboard_url()
    return f'http://{url}' if url else '(no dashboard)'
