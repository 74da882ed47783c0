"""``sio-ray gateway``: the command line of the OIOIOI gateway."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
from pathlib import Path

DEFAULT_PORT = 7889


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/sio-ray/gateway`` (``~/.local/state/sio-ray/gateway``)."""
    from sio.workers import settings
    base = settings.STATE_HOME.get() or Path.home() / '.local' / 'state'
    return Path(base) / 'sio-ray' / 'gateway'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The gateway's options, on the ``gateway`` subcommand's parser."""
    parser.add_argument('--address', default=argparse.SUPPRESS,
                        help='Ray cluster address (default: $RAY_ADDRESS or a local Ray; '
                             '"auto" on a node of a running cluster)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: %(default)s; set --token-file '
                             'when it is not loopback)')
    parser.add_argument('--port', type=int, default=DEFAULT_PORT,
                        help='XML-RPC port (default: %(default)s, as sioworkersd; 0: any free '
                             'port, printed at start)')
    parser.add_argument('--state-dir', type=Path, default=default_state_dir(),
                        help='where accepted groups and undelivered results are kept '
                             '(default: %(default)s)')
    parser.add_argument('--replace', action='store_true',
                        help='stop the gateway using the state directory (SIGTERM) and take '
                             'over; without it a second gateway there refuses to start')
    parser.add_argument('--max-task-ram', type=float, default=2048, metavar='MIB',
                        help='refuse groups with a job needing more memory (MiB; default: '
                             '%(default)g, as sioworkersd)')
    parser.add_argument('--token-file', type=Path,
                        help='a file holding a shared secret every call must carry (HTTP basic '
                             'password or bearer token)')
    parser.add_argument('--window', type=int, default=0,
                        help='jobs handed to sio_ray at once (default: 4 per CPU of the '
                             'cluster, at least 16)')
    parser.add_argument('--retry-initial', type=float, default=1.0, metavar='SECONDS',
                        help='first wait before a failed delivery is retried; it doubles '
                             '(default: %(default)g)')
    parser.add_argument('--retry-max', type=float, default=300.0, metavar='SECONDS',
                        help='longest wait between delivery attempts (default: %(default)g)')
    parser.add_argument('--give-up', type=float, default=7 * 24 * 3600.0, metavar='SECONDS',
                        help='drop a result not delivered within this time (default: '
                             '%(default)g = 7 days)')
    parser.add_argument('--delivery-timeout', type=float, default=30.0, metavar='SECONDS',
                        help='how long one delivery attempt may take (default: %(default)g)')
    parser.add_argument('--log-level', default='INFO',
                        choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                        help='(default: %(default)s)')


def _loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Run the gateway until SIGTERM or SIGINT; the exit status."""
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    from sio_ray.gateway.delivery import RetryPolicy
    from sio_ray.gateway.service import Gateway, read_token
    token = None
    try:
        if args.token_file:
            token = read_token(args.token_file)
        policy = RetryPolicy(initial=args.retry_initial, cap=args.retry_max, give_up=args.give_up,
                             timeout=args.delivery_timeout)
    except (OSError, ValueError) as exc:
        print(f'sio-ray gateway: {exc}', file=sys.stderr)
        return 2
    if token is None and not _loopback(args.host):
        logging.warning('listening on %s without --token-file: anyone who reaches the port '
                        'can submit jobs', args.host)
    gateway = Gateway(args.state_dir, max_task_ram_mib=args.max_task_ram,
                      window=args.window or None, retry=policy, token=token)
    try:
        url = gateway.start(args.host, args.port, getattr(args, 'address', None),
                            replace=args.replace)
    except (OSError, RuntimeError) as exc:
        print(f'sio-ray gateway: {exc}', file=sys.stderr)
        return 2
    # After start: connecting to Ray installs Ray's own SIGTERM handler.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: gateway.request_stop())
    print(f'sio-ray gateway: serving {url} (state in {args.state_dir})', flush=True)
    return gateway.wait()
