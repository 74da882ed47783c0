"""What a node's store holds, in a few kilobytes: so that jobs go where their inputs are.

A node's store (:mod:`~sio.workers.filetracker.store`) keeps the test inputs
of the problems its node judged.  :func:`summarize` reads a store into a
:class:`Holdings`: a Bloom filter of the names it holds, each entered twice,
as ``name`` and as ``name@version`` (the version a job asks for is the one
that counts).  The filter is sized for about 1 % false positives and never
takes more than :data:`MAX_BYTES`, however large the store; a false positive
only makes a job prefer a node that does not hold the file after all (the
file is then fetched there, as it would be without the summary), and a file
held when the summary was made is never missed.  Each node cache publishes
its summary where drivers read it (``sio_ray``: the cluster's registry).

:func:`job_inputs` names the files a job reads, with a weight each: a test's
input and model output count most (the large files every submission of a
problem reads), a program, checker or interactor less.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sio.workers.filetracker.store import TMP_PREFIX

__all__ = ['Holdings', 'summarize', 'job_inputs', 'INPUT_WEIGHTS', 'MAX_BYTES']

#: The environ keys naming files a job reads from filetracker, with their weight.
INPUT_WEIGHTS: Mapping[str, float] = {'in_file': 4.0, 'hint_file': 2.0, 'exe_file': 1.0,
                                      'chk_file': 1.0, 'interactor_file': 1.0}
#: The most bytes a summary's filter takes (about 55 000 files at 1 % false positives).
MAX_BYTES = 64 << 10
#: Filter bits per name entered (about 1 % false positives with the best number of hashes).
BITS_PER_NAME = 10
_MIN_BITS = 1024
#: At most this many positions per name (4 at 10 bits a name: about 1.2 % false
#: positives, against 0.8 % with the best 7, for half the work).
MAX_HASHES = 4


def _positions(name: str, bits: int, hashes: int) -> list[int]:
    digest = hashlib.blake2b(name.encode(), digest_size=16).digest()
    first, second = int.from_bytes(digest[:8], 'little'), int.from_bytes(digest[8:], 'little') | 1
    return [(first + i * second) % bits for i in range(hashes)]


@dataclass(frozen=True)
class Holdings:
    """A Bloom filter of the file names a store holds (see the module's docstring)."""

    #: The filter.
    bits: bytes
    #: How many positions each name sets.
    hashes: int
    #: How many names were entered.
    names: int
    #: When it was made (Unix seconds).
    made: float

    @classmethod
    def of(cls, names: Iterable[str], made: float | None = None) -> 'Holdings':
        """The summary of ``names``."""
        names = list(dict.fromkeys(names))
        size = min(MAX_BYTES * 8, max(_MIN_BITS, len(names) * BITS_PER_NAME))
        size -= size % 8
        hashes = max(1, min(MAX_HASHES, round(size / max(1, len(names)) * math.log(2))))
        bits = bytearray(size // 8)
        for name in names:
            digest = hashlib.blake2b(name.encode(), digest_size=16).digest()
            first = int.from_bytes(digest[:8], 'little')
            second = int.from_bytes(digest[8:], 'little') | 1
            for i in range(hashes):
                p = (first + i * second) % size
                bits[p >> 3] |= 1 << (p & 7)
        return cls(bytes(bits), hashes, len(names), time.time() if made is None else made)

    def holds(self, name: str) -> bool:
        """Whether the store held ``name`` (``path`` or ``path@version``) when
        the summary was made (rarely true of a name it did not hold)."""
        size = len(self.bits) * 8
        return bool(size) and all(self.bits[p >> 3] >> (p & 7) & 1
                                  for p in _positions(name, size, self.hashes))

    def to_dict(self) -> dict:
        """As plain data (for Ray, JSON)."""
        return {'bits': base64.b64encode(self.bits).decode(), 'hashes': self.hashes,
                'names': self.names, 'made': self.made}

    @classmethod
    def from_dict(cls, data: Mapping) -> 'Holdings':
        return cls(base64.b64decode(data['bits']), int(data['hashes']), int(data['names']),
                   float(data['made']))


def stored_names(cache_dir: str | os.PathLike) -> list[str]:
    """The names a store holds, each as ``path`` and ``path@version``
    (transfers in progress left out)."""
    names: list[str] = []
    _scan(os.path.join(cache_dir, 'files'), '/', names)
    return names


def _scan(directory: str, prefix: str, names: list[str]) -> None:
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    _scan(entry.path, f'{prefix}{entry.name}/', names)
                    continue
                version = int(entry.stat(follow_symlinks=False).st_mtime)
            except FileNotFoundError:
                continue
            base = prefix + entry.name
            names += [base, f'{base}@{version}']


def summarize(cache_dir: str | os.PathLike) -> Holdings:
    """The summary of the store in ``cache_dir`` as it is now."""
    return Holdings.of(stored_names(cache_dir))


def job_inputs(environ: Mapping, default_url: str | None = None) -> list[tuple[str, str, float]]:
    """The files the job of ``environ`` reads from its filetracker server:
    ``(server URL, name, weight)`` for each key of :data:`INPUT_WEIGHTS` it
    has (none for a job without a server: ``use_filetracker`` false, or no
    ``filetracker_url`` and no ``default_url``)."""
    url = environ.get('filetracker_url') or default_url
    if not isinstance(url, str) or not url or environ.get('use_filetracker', True) is False:
        return []
    return [(url, environ[key], weight) for key, weight in INPUT_WEIGHTS.items()
            if isinstance(environ.get(key), str) and environ[key].startswith('/')]
