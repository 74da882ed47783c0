"""``sio-run-filetracker``: this node's cache server, started in the background or run.

* ``sio-run-filetracker [--url CENTRAL]`` makes sure the node cache server
  for the central server runs (:func:`launch_filetracker_server`: it starts
  one in the background unless one is registered and alive) and prints its URL;
* ``sio-run-filetracker --foreground`` is that server, in this process, until
  SIGTERM or SIGINT (for a system service); exit status 3 when another one
  already runs for the node's store (its URL is printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import subprocess
import sys
import threading

from sio.workers.filetracker.registry import AlreadyRunning, Registry
from sio.workers.filetracker.server import NodeCacheServer, parse_size
from sio.workers.filetracker.store import cache_dir_for

__all__ = ['launch_filetracker_server', 'main']

logger = logging.getLogger(__name__)


def launch_filetracker_server(url: str | None = None, max_cache_bytes: int | None = None,
                              timeout: float = 30.0, listen: str = '127.0.0.1',
                              port: int = 0) -> str | None:
    """Make sure this node's cache server for the central server ``url``
    (default ``$FILETRACKER_URL``) runs; return its URL.  Without a central
    server (no ``url``, no ``$FILETRACKER_URL``) there is nothing to cache:
    nothing starts and the result is None.

    It is not a stock ``filetracker-server`` (which cannot pull through) but
    :class:`~sio.workers.filetracker.server.NodeCacheServer`, started in the
    background (``sio-run-filetracker --foreground`` in a session of its own,
    logging to ``node-cache.log`` in the node's store, bound to
    ``listen:port``, any free port by default) unless one is already
    registered.
    """
    url = url or os.environ.get('FILETRACKER_URL') or None
    if not url:
        logger.info('No central filetracker server configured: no node cache server to start')
        return None
    cache_dir = cache_dir_for(url)
    running = Registry(cache_dir).live_url(url)
    if running:
        return running
    cache_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, '-m', 'sio.workers.filetracker.cli', '--foreground', '--url', url,
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


def _size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """``sio-run-filetracker``: make sure this node's cache server runs (as
    :func:`launch_filetracker_server` does) and print its URL; with
    ``--foreground``, be that server until stopped (for a system service)."""
    parser = argparse.ArgumentParser(
        prog='sio-run-filetracker',
        description="Start this node's filetracker cache server (pull-through, in front of "
                    'the central filetracker server) unless it runs; print its URL.')
    parser.add_argument('--url', default=os.environ.get('FILETRACKER_URL'),
                        help='central filetracker URL (default: $FILETRACKER_URL)')
    parser.add_argument('--listen', default='127.0.0.1', help='address to bind (default: 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port (default: any free one)')
    parser.add_argument('--max-size', type=_size_argument, default=None,
                        help='cache bound, e.g. 10G (default: $SIO_FT_CACHE_SIZE or 10G)')
    parser.add_argument('--foreground', action='store_true',
                        help='serve in this process until SIGTERM (exit status 3 if a server '
                             'already runs for this cache)')
    args = parser.parse_args(argv)
    if not args.url:
        parser.error('no central server: give --url or set FILETRACKER_URL')
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(message)s')
    if not args.foreground:
        try:
            print(launch_filetracker_server(args.url, args.max_size, listen=args.listen,
                                            port=args.port), flush=True)
        except (ValueError, RuntimeError) as exc:
            parser.exit(1, f'sio-run-filetracker: {exc}\n')
        return 0
    try:
        server = NodeCacheServer(args.url, None, args.listen, args.port, args.max_size)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        server.start()
    except AlreadyRunning as exc:
        print(exc.url, flush=True)
        logger.info('%s', exc)
        return 3
    print(server.url, flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
