"""Connecting the driver to Ray: an existing cluster, or a local one started on demand.

A local Ray started by :func:`connect` (the demo, ``sio-ray submit``, the
tests) listens on 127.0.0.1 only — its GCS, raylet, object manager, agents,
dashboard and workers — so nobody else on the network can reach it (with
``RAY_AUTH_MODE=disabled`` that would be code execution for anyone who can
reach the machine).  A driver joining a Ray on a loopback address does the
same.

A cluster with token authentication (Ray's default for clusters started with
a token) needs every driver to have ``RAY_AUTH_MODE=token`` and the cluster's
token (``$RAY_AUTH_TOKEN``, the file named by ``$RAY_AUTH_TOKEN_PATH``, or
``~/.ray/auth_token``).  :func:`connect` asks the cluster first and, when it
refuses the driver for want of the right token, raises
:class:`ConnectionError` saying so.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from pathlib import Path

import ray

from sio.workers import settings
from sio_ray import tags
from sio_ray.registry import NAMESPACE
from sio_ray.session import Session

#: Ray's switch, read by its processes when they start: with ``0`` a node
#: takes 127.0.0.1 as its address and binds every port there.
LOOPBACK_VARIABLE = 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'
#: The dashboard port a local Ray takes when it is free (Ray's default).
DASHBOARD_PORT = 8265
#: The port the node agent of a Ray started by ``ray.init`` listens on (Ray's
#: default; ``ray.init`` cannot change it, ``ray start`` can).
AGENT_PORT = 52365

logger = logging.getLogger(__name__)
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
        owns, context = False, None
        if not ray.is_initialized():
            address = address or settings.RAY_ADDRESS.get()
            kwargs = {'namespace': NAMESPACE, 'log_to_driver': False, **init_kwargs}
            if address is None:
                # 'local' always starts a Ray of our own (never joins one found on the machine).
                address = 'local'
                kwargs.setdefault('labels', tags.node_labels())
                kwargs.setdefault('resources', tags.node_resources())
                kwargs.setdefault('dashboard_host', '127.0.0.1')
                kwargs.setdefault('dashboard_port', _dashboard_port())
                if _port_taken(AGENT_PORT):
                    logger.warning(
                        'sio_ray: port %d, where the node agent of a local Ray listens, is '
                        'taken (another Ray on this machine?): this Ray starts without it, so '
                        "the dashboard's logs and the State API's log calls will not work; for "
                        'them start a Ray with `ray start --head --dashboard-agent-listen-port='
                        'PORT` and connect to its address', AGENT_PORT)
                _loopback(True)
            elif address != 'auto' and '://' not in address:
                _check_reachable(address)
                _loopback(_is_loopback(address))
            try:
                context = ray.init(address=address, **kwargs)
            except BaseException:
                _loopback(False)
                raise
            owns = address == 'local'
        _session = Session(owns_ray=owns, context=context)
        if not owns:
            _report(_session)
        if not _hooked:
            # Runs before Ray's own exit hook (registered earlier): the dispatcher
            # thread must not touch Ray once it is shut down.
            atexit.register(_close_session)
            _hooked = True
        return _session


def _report(session: Session) -> None:
    """Say what the cluster this driver joined lacks for judging."""
    from sio_ray.nodes import shortcomings
    try:
        nodes = session.dispatcher.nodes()
    except Exception:
        logger.debug('could not look at the cluster', exc_info=True)
        return
    alive = [n for n in nodes if n.alive]
    logger.info('sio_ray joined a Ray cluster of %d alive node(s), %g CPUs', len(alive),
                sum(n.resources.get('CPU', 0) for n in alive))
    try:
        growable = session.dispatcher.growable()
    except Exception:
        growable = []
    if growable:
        logger.info('its autoscaler can add: %s', ', '.join(n.node_id for n in growable))
    for problem in shortcomings(nodes, growable):
        logger.warning('sio_ray: %s', problem)


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
        _loopback(False)


def dashboard_url() -> str:
    """The dashboard of the Ray this process is connected to, or ``(no dashboard)``."""
    return connect().dashboard_url


def _dashboard_port() -> int:
    """Ray's usual dashboard port when it is free, else any free port (another
    Ray on this machine may hold it; Ray's dashboard would then fail)."""
    return 0 if _port_taken(DASHBOARD_PORT) else DASHBOARD_PORT


def _port_taken(port: int) -> bool:
    """Whether TCP ``port`` of 127.0.0.1 is held by a socket right now (one
    only lingering after its connections closed does not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(('127.0.0.1', port))
            return False
        except OSError:
            return True


_saved_loopback: tuple[str | None, bool] | None = None


def _loopback(on: bool) -> None:
    """Make the Ray this process starts or joins use 127.0.0.1 (``on``), or
    undo that.  Ray reads its switch from the environment: its processes when
    they start, this one when ``ray`` was imported (hence the constant)."""
    global _saved_loopback
    from ray._private import ray_constants  # Ray has no public switch for this
    if on and _saved_loopback is None:
        _saved_loopback = (os.environ.get(LOOPBACK_VARIABLE), ray_constants.ENABLE_RAY_CLUSTER)
        os.environ[LOOPBACK_VARIABLE] = '0'
        ray_constants.ENABLE_RAY_CLUSTER = False
    elif not on and _saved_loopback is not None:
        variable, constant = _saved_loopback
        if variable is None:
            os.environ.pop(LOOPBACK_VARIABLE, None)
        else:
            os.environ[LOOPBACK_VARIABLE] = variable
        ray_constants.ENABLE_RAY_CLUSTER = constant
        _saved_loopback = None


def _is_loopback(address: str) -> bool:
    host = address.rsplit(':', 1)[0].strip('[]')
    return host in ('localhost', '::1') or host.startswith('127.')


def _auth_token() -> str | None:
    """The token Ray itself would send (``$RAY_AUTH_TOKEN``, the file
    ``$RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``), if token mode is on."""
    if (os.environ.get('RAY_AUTH_MODE') or '').lower() != 'token':
        return None
    if os.environ.get('RAY_AUTH_TOKEN'):
        return os.environ['RAY_AUTH_TOKEN'].strip()
    path = os.environ.get('RAY_AUTH_TOKEN_PATH') or Path.home() / '.ray' / 'auth_token'
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


#: What a driver must do to join a cluster with token authentication.
AUTH_HELP = ('set RAY_AUTH_MODE=token in the driver\'s environment and give it the '
             "cluster's token: $RAY_AUTH_TOKEN, a file named by $RAY_AUTH_TOKEN_PATH, or "
             '~/.ray/auth_token (copy it from the head node; `ray get-auth-token` prints it '
             'there)')


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Ask the cluster's GCS at ``address`` who may join, before Ray's own
    connection (which retries for half a minute and never says why).  Raises
    :class:`ConnectionError` when the GCS refuses this driver's token, or
    when nothing answers there."""
    import grpc
    token = _auth_token()
    metadata = [('authorization', f'Bearer {token}')] if token else []
    with grpc.insecure_channel(address) as channel:
        cluster_id = channel.unary_unary('/ray.rpc.NodeInfoGcsService/GetClusterId',
                                         request_serializer=lambda request: request,
                                         response_deserializer=lambda reply: reply)
        try:
            cluster_id(b'', timeout=timeout, metadata=metadata)
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAUTHENTICATED:
                if token is None:
                    raise ConnectionError(
                        f'the Ray cluster at {address} uses token authentication and this '
                        f'driver has no token: {AUTH_HELP}') from None
                raise ConnectionError(
                    f'the Ray cluster at {address} refused the authentication token of this '
                    f'driver (a token of another cluster?): {AUTH_HELP}') from None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ConnectionError(f'no Ray cluster answers at {address} '
                                      f'({exc.details()})') from None
            # Any other answer comes from a GCS: let Ray connect and judge.
