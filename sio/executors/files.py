"""Getting a job's files into place: the program (and its extra files), and
the test input (a plain file or a single-file zip archive); and the program's
output out of it.

A program's output file lives beside its box, never in it (the box sees it
only as its open standard output), and is opened and uploaded without
following links, as a regular file (:mod:`sio.workers.isolation.boxfiles`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from sio.workers import ft
from sio.workers.isolation.boxfiles import open_box_file


def fetch_program(environ: dict, box: Path, name: str) -> Path:
    """Download ``exe_file`` into the box as ``name`` (executable) together
    with ``extra_execution_files`` (``{name in the box: filetracker path}``)."""
    exe = Path(ft.download(environ, 'exe_file', str(box / name), add_to_cache=True))
    exe.chmod(0o755)
    extra = environ.get('extra_execution_files') or {}
    if not isinstance(extra, dict):
        raise ValueError(f"environ['extra_execution_files']: {extra!r} is not a dict")
    for local_name, path in extra.items():
        if not local_name or '/' in local_name or local_name in ('.', '..'):
            raise ValueError(f"environ['extra_execution_files']: bad file name {local_name!r}")
        ft.download_path(environ, path, str(box / local_name), add_to_cache=True)
    return exe


def fetch_input(environ: dict, job_dir: Path) -> Path:
    """Download ``in_file``; a zip archive must hold exactly one file, which
    becomes the input (upstream unpacks any input that is a valid zip)."""
    path = Path(ft.download(environ, 'in_file', str(job_dir / 'in'), add_to_cache=True))
    if not zipfile.is_zipfile(path):
        return path
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise ValueError(f"environ['in_file']: a zipped input must hold exactly one file, "
                                 f'this one holds {len(members)}')
            unpacked = job_dir / 'in.unzipped'
            with archive.open(members[0]) as src, open(unpacked, 'wb') as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"environ['in_file']: failed to open archive: {exc}") from None
    return unpacked


def upload_output(environ: dict, out: Path) -> None:
    """Upload the program's output to ``out_file``, if the environ asks for it
    (to the central store only with ``upload_out``; otherwise the node cache)."""
    if 'out_file' in environ:
        with open_box_file(out.parent, out.name):  # a regular file, not a link: or it raises
            ft.upload(environ, 'out_file', str(out),
                      to_remote_store=bool(environ.get('upload_out')))


def open_output(path: Path):
    """The program's output file, append-only (it cannot seek back over it),
    never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC | os.O_NOFOLLOW
                 | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, 'wb')
