"""A box's writable space: a tmpfs of its own for one run, bounded in bytes and inodes.

Without it the box directory is host disk that a program can fill (gigabytes
in a second) or litter with hundreds of thousands of files.  With it (the
worker is root, ``SIO_BOX_TMPFS`` is not ``0``), :meth:`BoxDisk.create`
mounts a tmpfs sized to what the box holds plus the run's budget, copies the
box directory into it, and :meth:`BoxDisk.copy_back` brings back what the
run left there — regular files and directories only, never links, FIFOs or
devices.  tmpfs pages are charged to the memory cgroup of the process that
writes them, so what the program writes counts towards its memory limit:
filling the disk is MLE, not a node problem.  Unmounting frees everything at
once, however many files the program made.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

#: Inodes offered beyond those copied in (``SIO_BOX_INODES``).
DISK_INODES = int(os.environ.get('SIO_BOX_INODES', 4096))
#: Bytes offered beyond those copied in when the run has no memory limit.
DISK_BYTES_DEFAULT = 256 << 20

_MS_NOSUID, _MS_NODEV = 2, 4
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(target: Path, options: str) -> None:
    if _libc.mount(b'tmpfs', os.fsencode(target), b'tmpfs', _MS_NOSUID | _MS_NODEV,
                   options.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f'mounting a tmpfs on {target}: {os.strerror(err)}')


def _umount(target: Path) -> None:
    if _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise OSError(err, f'unmounting {target}: {os.strerror(err)}')


def _tree(root: Path) -> tuple[int, int]:
    """Bytes and entries under ``root`` (not following links)."""
    size = count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
        count += len(dirnames) + len(filenames)
    return size, count


def enabled() -> bool:
    """Whether boxes get a tmpfs of their own here."""
    return os.geteuid() == 0 and os.environ.get('SIO_BOX_TMPFS', '1') != '0'


class BoxDisk:
    """The tmpfs of one run; :meth:`remove` it always."""

    def __init__(self, source: Path, path: Path, copied: dict[str, tuple[int, int]]):
        self.source = source
        self.path = path
        self._copied = copied

    @classmethod
    def create(cls, source: Path, user: tuple[int, int] | None,
               memory_bytes: int | None) -> 'BoxDisk | None':
        """A tmpfs holding a copy of ``source``, owned by ``user``; None where
        boxes cannot have one (not root)."""
        if not enabled():
            return None
        size, count = _tree(source)
        budget = memory_bytes or DISK_BYTES_DEFAULT
        path = Path(tempfile.mkdtemp(prefix='.box-disk-', dir=source.parent))
        uid, gid = user or (os.geteuid(), os.getegid())
        try:
            _mount_tmpfs(path, f'size={size + budget + (1 << 20)},nr_inodes={count + DISK_INODES},'
                               f'mode=0755,uid={uid},gid={gid}')
        except OSError:
            path.rmdir()
            raise
        disk = cls(source, path, {})
        try:
            disk._copy_in(user)
        except BaseException:
            disk.remove()
            raise
        return disk

    def _copy_in(self, user: tuple[int, int] | None) -> None:
        for dirpath, dirnames, filenames in os.walk(self.source):
            rel = os.path.relpath(dirpath, self.source)
            target = self.path / rel if rel != '.' else self.path
            for name in dirnames:
                src = os.path.join(dirpath, name)
                if os.path.islink(src):
                    continue
                (target / name).mkdir(mode=stat.S_IMODE(os.lstat(src).st_mode) | 0o700)
                if user:
                    os.chown(target / name, *user)
            for name in filenames:
                src = os.path.join(dirpath, name)
                if not stat.S_ISREG(os.lstat(src).st_mode):
                    continue
                dst = target / name
                shutil.copyfile(src, dst, follow_symlinks=False)
                shutil.copymode(src, dst)
                if user:
                    os.chown(dst, *user)
                st = os.lstat(dst)
                self._copied[os.path.relpath(dst, self.path)] = (st.st_size, st.st_mtime_ns)

    def copy_back(self) -> None:
        """Make the box directory what the run left: new and changed regular
        files and directories are copied back, removed ones removed; links,
        FIFOs, sockets and devices are left behind."""
        seen = set()
        for dirpath, dirnames, filenames in os.walk(self.path):
            rel_dir = os.path.relpath(dirpath, self.path)
            target_dir = self.source / rel_dir if rel_dir != '.' else self.source
            for name in list(dirnames):
                st = os.lstat(os.path.join(dirpath, name))
                rel = os.path.normpath(os.path.join(rel_dir, name))
                if not stat.S_ISDIR(st.st_mode):
                    dirnames.remove(name)
                    continue
                seen.add(rel)
                target = target_dir / name
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(exist_ok=True)
            for name in filenames:
                src = os.path.join(dirpath, name)
                st = os.lstat(src)
                if not stat.S_ISREG(st.st_mode):
                    continue
                rel = os.path.normpath(os.path.join(rel_dir, name))
                seen.add(rel)
                if self._copied.get(rel) == (st.st_size, st.st_mtime_ns):
                    continue
                target = target_dir / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
                with os.fdopen(fd, 'rb') as f, open(target, 'xb') as out:
                    shutil.copyfileobj(f, out, 1 << 20)
                os.chmod(target, stat.S_IMODE(st.st_mode) & 0o777)
        for rel in self._copied:
            if rel not in seen:
                with contextlib.suppress(FileNotFoundError):
                    (self.source / rel).unlink()

    def full(self) -> bool:
        """Whether less than 1 MiB or no inode is left."""
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize < (1 << 20) or st.f_favail == 0

    def remove(self) -> None:
        """Unmount the tmpfs (freeing all it holds) and delete its mount point."""
        _umount(self.path)
        with contextlib.suppress(OSError):
            self.path.rmdir()
