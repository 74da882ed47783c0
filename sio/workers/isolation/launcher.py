"""The in-box launcher (``launcher.c``), compiled on first use.

The binary is built statically (the box of a static program contains nothing
else) into ``$SIO_CACHE_DIR`` (default ``/var/cache/sio-ray`` for root, whose
home the unprivileged box user cannot reach, else ``~/.cache/sio-ray``), named
after the hash of its source, under an inter-process lock.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from sio.workers import settings
from sio.workers.filetracker.store import locked

SOURCE = Path(__file__).with_name('launcher.c')
_lock = threading.Lock()
_built: dict[Path, Path] = {}  # source -> its binary, in this process


class LauncherBuildError(RuntimeError):
    """The launcher could not be compiled (no C compiler or static libc)."""


def cache_dir() -> Path:
    configured = settings.CACHE_DIR.get()
    if configured is not None:
        return configured
    if os.geteuid() == 0:
        return Path('/var/cache/sio-ray')
    return Path.home() / '.cache' / 'sio-ray'


def launcher_binary() -> Path:
    """Path of the compiled launcher, building it when missing."""
    return static_binary(SOURCE, 'sio-box-launcher', 'the sandbox launcher',
                         LauncherBuildError, flags=('-Wall',))


def static_binary(source: Path, name: str, what: str, error: type[Exception],
                  flags: tuple[str, ...] = ()) -> Path:
    """``source`` (C) compiled statically with ``-O2`` into :func:`cache_dir`
    as ``NAME-HASH`` (the hash of the source), once per node: under an
    inter-process lock, in this process remembered.  A failure raises
    ``error`` saying it could not build ``what``."""
    with _lock:
        built = _built.get(source)
        if built is not None and built.exists():
            return built
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)
        target = directory / f'{name}-{digest}'
        if not target.exists():
            with locked(directory / f'.{name}.lock'):
                if not target.exists():
                    _compile(source, target, what, error, flags)
        _built[source] = target
        return target


def _compile(source: Path, target: Path, what: str, error: type[Exception],
             flags: tuple[str, ...]) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f'.{target.name}-')
    os.close(fd)
    cc = settings.CC.get()
    try:
        done = subprocess.run([cc, '-O2', '-static', *flags, '-o', tmp, str(source)],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(tmp)
        raise error(f'cannot run {cc} to build {what}: {exc}') from None
    if done.returncode != 0:
        os.unlink(tmp)
        raise error(f'building {what} failed:\n{done.stderr}')
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
