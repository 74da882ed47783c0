"""Connecting the driver to Ray: an existing cluster, or a local one started on demand."""

from __future__ import annotations

import atexit
import threading

import ray

from sio.workers import settings
from sio_ray import tags

NAMESPACE = 'sio'
_lock = threading.Lock()


def connect(address: str | None = None, **init_kwargs) -> None:
    """Make sure this process is connected to Ray.

    With ``address`` (or ``$RAY_ADDRESS``) it joins that cluster; otherwise it
    starts a local one whose only node is tagged by probing this machine
    (:mod:`sio_ray.tags`).  Token authentication stays as Ray configures it.
    """
    with _lock:
        if ray.is_initialized():
            return
        from sio_ray import dispatcher  # a new Ray needs a new dispatcher
        dispatcher.reset()
        address = address or settings.RAY_ADDRESS.get()
        kwargs = {'namespace': NAMESPACE, 'log_to_driver': False, **init_kwargs}
        if address is None:
            # 'local' always starts a Ray of our own (never joins one found on the machine).
            address = 'local'
            kwargs.setdefault('labels', tags.node_labels())
            kwargs.setdefault('resources', tags.node_resources())
        ray.init(address=address, **kwargs)
        # Runs before Ray's own exit hook (registered earlier): the dispatcher
        # thread must not touch Ray once it is shut down.
        atexit.register(_stop_dispatcher)


def _stop_dispatcher() -> None:
    from sio_ray import dispatcher
    dispatcher.reset()


def shutdown() -> None:
    """Stop this driver's dispatcher (its unfinished jobs come back as FAILURE),
    then disconnect from Ray (a local Ray started by :func:`connect` stops)."""
    from sio_ray import dispatcher
    with _lock:
        dispatcher.reset()
        ray.shutdown()
