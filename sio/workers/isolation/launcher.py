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
_built: Path | None = None


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
    global _built
    with _lock:
        if _built is not None and _built.exists():
            return _built
        source = SOURCE.read_bytes()
        digest = hashlib.sha256(source).hexdigest()[:16]
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)
        target = directory / f'sio-box-launcher-{digest}'
        if not target.exists():
            with locked(directory / '.launcher.lock'):
                if not target.exists():
                    _compile(target)
        _built = target
        return target


def _compile(target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix='.launcher-')
    os.close(fd)
    cc = settings.CC.get()
    try:
        done = subprocess.run([cc, '-O2', '-static', '-Wall', '-o', tmp, str(SOURCE)],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(tmp)
        raise LauncherBuildError(f'cannot run {cc} to build the sandbox launcher: {exc}') from None
    if done.returncode != 0:
        os.unlink(tmp)
        raise LauncherBuildError(f'building the sandbox launcher failed:\n{done.stderr}')
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
