"""A batch's results, recorded as they arrive, so a restarted driver does not
run finished jobs again.

The journal of batch ``ID`` is ``<directory>/<ID>.journal``: msgpack records
``{'key': ..., 'result': environ}`` appended and flushed to disk one by one.
A job's key is its place in the batch and a digest of its environ, so a
changed batch never reuses a stale result.  A record cut short by a crash is
dropped when the journal is opened again (the file is cut after the last whole
record).  Only results of jobs that ran are recorded: a job cancelled, lost,
or left unfinished when its driver shut down runs again on resume.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import msgpack

from sio.workers import environ as envmod


def job_key(index: int, environ: dict | bytes) -> str:
    """The key of the job at ``index`` of a batch: its place and a digest of
    its environ (or of the environ already packed by :func:`~sio.workers.environ.pack`)."""
    packed = environ if isinstance(environ, bytes) else envmod.pack(environ)
    return f'{index}:{hashlib.sha256(packed).hexdigest()[:16]}'


class Journal:
    """Results of one batch, on disk."""

    def __init__(self, directory: str | os.PathLike, batch_id: str):
        if not re.fullmatch(r'[A-Za-z0-9._-]+', batch_id or ''):
            raise ValueError(f'batch id {batch_id!r}: use letters, digits, ".", "_" and "-"')
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f'{batch_id}.journal'
        self._lock = threading.Lock()
        self._results: dict[str, dict] = {}
        if self.path.exists():
            self._load()
        self._file = open(self.path, 'ab')

    def _load(self) -> None:
        """Read the records; cut the file after the last whole one, so that new
        records follow it and not the remains of one a crash cut short."""
        data = self.path.read_bytes()
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(data)
        good = 0
        try:
            for record in unpacker:
                if not (isinstance(record, dict) and isinstance(record.get('key'), str)
                        and isinstance(record.get('result'), dict)):
                    break
                self._results[record['key']] = record['result']
                good = unpacker.tell()
        except (ValueError, msgpack.UnpackException):
            pass  # a record cut short by a crash: that job runs again
        if good < len(data):
            with open(self.path, 'r+b') as f:
                f.truncate(good)
                os.fsync(f.fileno())

    def __len__(self) -> int:
        return len(self._results)

    def result(self, key: str) -> dict | None:
        """The recorded result of the job with ``key``, if it finished before."""
        return self._results.get(key)

    def record(self, key: str, result: dict) -> None:
        with self._lock:
            self._results[key] = result
            self._file.write(msgpack.packb({'key': key, 'result': result}, use_bin_type=True))
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()
