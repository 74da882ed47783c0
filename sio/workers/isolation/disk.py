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

from sio.workers import settings

#: Inodes offered beyond those copied in (``$SIO_BOX_INODES``, read when a disk is made).
DISK_INODES = settings.BOX_INODES.default
#: Bytes offered beyond those copied in when the run has no memory limit.
DISK_BYTES_DEFAULT = 256 << 20
#: Directories deeper than this in a box are not copied back.
MAX_DEPTH = 16

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


def _join(top: str, name: str) -> str:
    return name if top == '.' else f'{top}/{name}'


def _open_dirs(root: int, parts: list[str], create: bool) -> int:
    """A descriptor of directory ``parts`` under ``root``, never following links
    (with ``create``, missing ones are made and anything else in the way removed)."""
    fd = os.dup(root)
    try:
        for part in parts:
            if create:
                _replace_with_dir(fd, part)
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_entry(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            _rmtree_fd(sub)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _rmtree_fd(fd: int) -> None:
    for name in os.listdir(fd):
        _remove_entry(fd, name)


def _replace_with_dir(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            return
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    os.mkdir(name, 0o755, dir_fd=dir_fd)


def enabled() -> bool:
    """Whether boxes get a tmpfs of their own here."""
    return os.geteuid() == 0 and settings.BOX_TMPFS.get()


class BoxDisk:
    """The tmpfs of one run; :meth:`remove` it always."""

    def __init__(self, source: Path, path: Path, copied: dict[str, tuple[int, int]]):
        self.source = source
        self.path = path
        self._copied = copied
        self._root_fd: int | None = None

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
            inodes = count + settings.BOX_INODES.get()
            _mount_tmpfs(path, f'size={size + budget + (1 << 20)},nr_inodes={inodes},'
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

    def copy_back(self) -> bool:
        """Make the box directory what the run left: new and changed regular
        files and directories are copied back, removed ones removed; links,
        FIFOs, sockets, devices and directories deeper than :data:`MAX_DEPTH`
        are left behind.  Returns False, copying nothing, when the files'
        sizes add up to more than the tmpfs holds (sparse files, hard links
        to one big file): the run exceeded its disk."""
        files, budget = self._inventory()
        if files is None:
            return False
        kept = set()
        made: dict[tuple[int, int], str] = {}  # hard links are copied once, linked after
        dst_root = os.open(self.source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for rel, st in files:
                kept.add(rel)
                parts = rel.split('/')
                parent = _open_dirs(dst_root, parts[:-1], create=True)
                try:
                    name = parts[-1]
                    if stat.S_ISDIR(st.st_mode):
                        _replace_with_dir(parent, name)
                        continue
                    if self._copied.get(rel) == (st.st_size, st.st_mtime_ns):
                        continue
                    _remove_entry(parent, name)
                    key = (st.st_dev, st.st_ino)
                    if key in made:
                        os.link(made[key], name, src_dir_fd=dst_root, dst_dir_fd=parent,
                                follow_symlinks=False)
                        continue
                    src_dir = _open_dirs(self._root_fd, parts[:-1], create=False)
                    try:
                        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                                      | os.O_CLOEXEC, dir_fd=src_dir)
                    finally:
                        os.close(src_dir)
                    dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, stat.S_IMODE(st.st_mode) & 0o777, dir_fd=parent)
                    with os.fdopen(src, 'rb') as fin, os.fdopen(dst, 'wb') as fout:
                        shutil.copyfileobj(fin, fout, 1 << 20)
                    if st.st_nlink > 1:
                        made[key] = rel
                finally:
                    os.close(parent)
        finally:
            os.close(dst_root)
        for rel in self._copied:
            if rel not in kept:
                with contextlib.suppress(OSError):
                    (self.source / rel).unlink()
        return True

    def _inventory(self) -> tuple[list[tuple[str, os.stat_result]] | None, int]:
        """The regular files and directories of the tmpfs (relative paths, lstat),
        walked by descriptors; None when their sizes pass the tmpfs's size."""
        limit = os.statvfs(self.path).f_blocks * os.statvfs(self.path).f_frsize
        entries, total, seen = [], 0, set()
        self._root_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        for top, dirs, names, top_fd in os.fwalk(dir_fd=self._root_fd, follow_symlinks=False):
            rel_top = os.path.relpath(top, '.')
            depth = 0 if rel_top == '.' else rel_top.count('/') + 1
            for name in list(dirs):
                if depth >= MAX_DEPTH:
                    dirs.remove(name)
                    continue
                entries.append((_join(rel_top, name), os.stat(name, dir_fd=top_fd,
                                                              follow_symlinks=False)))
            for name in names:
                st = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
                entries.append((_join(rel_top, name), st))
        if total > limit:
            return None, limit
        return entries, limit

    def full(self) -> bool:
        """Whether less than 1 MiB or no inode is left."""
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize < (1 << 20) or st.f_favail == 0

    def remove(self) -> None:
        """Unmount the tmpfs (freeing all it holds) and delete its mount point."""
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None
        _umount(self.path)
        with contextlib.suppress(OSError):
            self.path.rmdir()
