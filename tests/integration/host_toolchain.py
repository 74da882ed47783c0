"""Pack the host's gcc into a toolchain sandbox directory (for the tests, and
as a recipe for administrators: any Debian node can publish its own gcc).

The sandbox is a root-like tree holding the files of the Debian packages of
gcc, binutils and the C library's development files, and the shared
libraries those programs load, with nothing else: documentation, link-time
optimisation and the sanitizers are left out.  Everything lives under
``usr/`` (the host's merged layout); ``bin``, ``lib`` and ``lib64`` point into
it.  Symbolic links are kept, made relative to the sandbox.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


class ToolchainUnavailable(Exception):
    """The host has no dpkg-installed gcc to pack."""


def _packages() -> list[str]:
    try:
        major = subprocess.run(['gcc', '-dumpversion'], capture_output=True, text=True,
                               check=True).stdout.strip().split('.')[0]
        machine = subprocess.run(['gcc', '-dumpmachine'], capture_output=True, text=True,
                                 check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolchainUnavailable(f'no host gcc: {exc}') from None
    return ['gcc', 'cpp', f'gcc-{major}', f'cpp-{major}', f'libgcc-{major}-dev', 'binutils',
            f'binutils-{machine.replace("_", "-")}', 'libc6-dev', 'linux-libc-dev']


_LEFT_OUT = re.compile(r'^/usr/share/|lto-dump|/lto1$|gcov|san(_preinit)?\.(a|o|so)')


def _package_files(package: str) -> list[str]:
    try:
        done = subprocess.run(['dpkg', '-L', package], capture_output=True, text=True)
    except OSError as exc:
        raise ToolchainUnavailable(f'no dpkg: {exc}') from None
    if done.returncode != 0:
        raise ToolchainUnavailable(f'package {package} is not installed')
    return [line for line in done.stdout.splitlines()
            if line.startswith('/') and not _LEFT_OUT.search(line)]


def _canonical(path: str) -> str:
    """``path`` with its directories resolved (``/lib/x`` is ``/usr/lib/x``), the
    last component kept (a link stays a link)."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _is_elf(path: str) -> bool:
    try:
        with open(path, 'rb') as f:
            return f.read(4) == b'\x7fELF'
    except OSError:
        return False


def _shared_libraries(path: str) -> set[str]:
    """What the dynamic loader loads for ``path`` (the loader included)."""
    done = subprocess.run(['ldd', path], capture_output=True, text=True)
    found = set()
    for line in done.stdout.splitlines():
        match = re.search(r'(?:=>\s*)?(/\S+)\s+\(0x', line)
        if match:
            found.add(match.group(1))
    return found


def pack(root: Path, extra_files: dict[str, str] | None = None) -> Path:
    """Fill ``root`` (created, made readable for the box user) with the host's
    gcc toolchain; ``extra_files`` maps sandbox paths to their text."""
    wanted: set[str] = set()
    for package in _packages():
        wanted.update(_canonical(p) for p in _package_files(package))
    pending = list(wanted)
    while pending:  # the link targets and the shared libraries of what is packed
        path = pending.pop()
        more = set()
        if os.path.islink(path):
            more.add(os.path.realpath(path))
        elif os.path.isfile(path) and _is_elf(path):
            for lib in _shared_libraries(path):
                more.update({_canonical(lib), os.path.realpath(lib)})
        for item in more - wanted:
            wanted.add(item)
            pending.append(item)
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(wanted):
        if not os.path.lexists(path) or (os.path.isdir(path) and not os.path.islink(path)):
            continue
        target = root / path.lstrip('/')
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(path):
            real = os.path.realpath(path)
            os.symlink(os.path.relpath(real, os.path.dirname(path)), target)
        else:
            shutil.copy2(path, target)
    for name in ('bin', 'lib', 'lib64'):
        if (root / 'usr' / name).is_dir() and not os.path.lexists(root / name):
            os.symlink(f'usr/{name}', root / name)
    for name, text in (extra_files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for directory, dirs, _ in os.walk(root):
        os.chmod(directory, 0o755)
    return root
