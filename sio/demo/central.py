"""A central, stock ``filetracker-server`` on a loopback port, for demos and tests.

In production OIOIOI runs the central server; the demos, the tests and the
benchmarks start their own::

    with CentralServer.start(Path('/tmp/ft')) as server:
        run({'job_type': 'ping', 'ping': 1, 'filetracker_url': server.url})
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from sio.workers.filetracker.client import FiletrackerClient

_CANARY = '/.sio-canary'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _server_executable() -> str:
    beside = Path(sys.executable).with_name('filetracker-server')
    found = str(beside) if beside.exists() else shutil.which('filetracker-server')
    if not found:
        raise RuntimeError('filetracker-server not found: install sio-ray (filetracker[server])')
    return found


@dataclass
class CentralServer:
    """A running ``filetracker-server`` that this process started."""

    directory: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    @property
    def log_path(self) -> Path:
        """The server's log (application and access log)."""
        return self.directory / 'server.log'

    @classmethod
    def start(cls, directory: str | os.PathLike, port: int | None = None, workers: int = 2,
              timeout: float = 30.0) -> 'CentralServer':
        """Start a server storing into ``directory`` on ``127.0.0.1:port`` (a free
        port by default) and wait until it serves files.

        Readiness is proven by a canary upload that must appear in this
        server's own store, so another process on the same port cannot be
        mistaken for it.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        exe = _server_executable()
        env = dict(os.environ)
        env['PATH'] = os.path.dirname(exe) + os.pathsep + env.get('PATH', '')  # it runs gunicorn
        env.pop('FILETRACKER_DIR', None)
        # Its temporary files (gunicorn's configuration, spooled uploads) stay in
        # its directory: a stop that kills the group would leave them behind.
        (directory / 'tmp').mkdir(exist_ok=True)
        env['TMPDIR'] = str(directory / 'tmp')
        log = open(directory / 'server.out', 'ab')
        process = subprocess.Popen(
            [exe, '-l', '127.0.0.1', '-p', str(port), '-d', str(directory / 'store'), '-D',
             '--workers', str(workers), '-L', str(directory / 'server.log')],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
        log.close()
        server = cls(directory, port, process)
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'filetracker-server exited with {self.process.returncode}; see '
                    f'{self.directory / "server.out"}')
            try:
                if requests.get(self.url + '/version', timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f'filetracker-server on {self.url} not ready in {timeout} s')
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            canary = Path(tmp, 'canary')
            canary.write_text(str(self.process.pid))
            client = FiletrackerClient(self.url, Path(tmp, 'cache'), timeout=(2, 10))
            client.put_file(_CANARY, canary, to_local_store=False)
        if not (self.directory / 'store' / 'links' / _CANARY.lstrip('/')).is_symlink():
            raise RuntimeError(f'another process answers on {self.url}')

    def stop(self, grace: float = 2.0) -> None:
        """Stop the server and its whole process group.

        Gunicorn's graceful stop waits for idle keep-alive connections (up to
        30 s), so after ``grace`` seconds the group is killed; the store
        recovers on the next start (filetracker runs BDB recovery)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind, if any
        except ProcessLookupError:
            pass
        self.process.wait()

    def __enter__(self) -> 'CentralServer':
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
