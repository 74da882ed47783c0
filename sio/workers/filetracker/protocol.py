"""Filetracker's HTTP protocol (version 2), as both of its sides here speak it.

One place for what the client and the node cache server share: the URL of a
file, the dates that carry versions (``Last-Modified``, ``?last_modified=``),
the size a response announces, and the errors — classified by what happened
(an HTTP status, no connection, no answer in time), never by their message.

Every error is a :class:`FiletrackerError`, the stock client's one exception
class, so code written for a stock client catches them as before.
"""

from __future__ import annotations

import email.utils
from urllib.request import pathname2url

import requests
from filetracker.client import FiletrackerError

__all__ = [
    'FiletrackerError', 'HTTPError', 'FileMissing', 'NotFound', 'Unreachable', 'TimedOut',
    'UploadIgnored', 'is_missing', 'status_error', 'http_date', 'parse_http_date',
    'response_version', 'logical_size', 'file_url',
]


class HTTPError(FiletrackerError):
    """The server answered ``status`` (400 or more) to ``method`` on ``name``.

    Its text is ``HTTP/<status>: <method> <name>: <detail>``, as stock clients
    word it; :attr:`what` is the part after the status."""

    def __init__(self, status: int, method: str, name: str, detail: str):
        self.status = status
        self.what = f'{method} {name}: {detail}'
        super().__init__(f'HTTP/{status}: {self.what}')


class FileMissing(FiletrackerError):
    """The file does not exist (on the server, or in a local-only store)."""


class NotFound(HTTPError, FileMissing):
    """The server answered 404: it does not have the file."""

    def __init__(self, method: str, name: str, detail: str = 'Not Found'):
        HTTPError.__init__(self, 404, method, name, detail)


class Unreachable(FiletrackerError):
    """The server could not be connected to at all."""


class TimedOut(FiletrackerError):
    """The server did not answer in time."""


class UploadIgnored(FiletrackerError):
    """The server kept a newer version (``stored``) instead of the upload."""

    def __init__(self, message: str, stored: int):
        super().__init__(message)
        self.stored = stored


def is_missing(error: BaseException) -> bool:
    """Whether ``error`` says that the file does not exist."""
    return isinstance(error, FileMissing)


def status_error(status: int, method: str, name: str, detail: str) -> HTTPError:
    """The error for an answer with HTTP ``status`` (400 or more)."""
    if status == 404:
        return NotFound(method, name, detail)
    return HTTPError(status, method, name, detail)


def http_date(version: int) -> str:
    """Version (Unix seconds) → an HTTP date, as filetracker sends it."""
    return email.utils.formatdate(version, usegmt=True)


def parse_http_date(text: str) -> int:
    """An HTTP date (RFC 2822, any zone) → Unix seconds; :class:`ValueError`
    if it is not one."""
    parsed = email.utils.parsedate_tz(text) if text else None
    if parsed is None:
        raise ValueError(f'{text!r} is not a date')
    return int(email.utils.mktime_tz(parsed))


def response_version(response: requests.Response) -> int | None:
    """The version a response announces (its ``Last-Modified``), if any."""
    header = response.headers.get('last-modified')
    return parse_http_date(header) if header else None


def logical_size(response: requests.Response) -> int | None:
    """The uncompressed size a response announces (``Logical-Size`` for a gzip
    body, else ``Content-Length``), if any."""
    if response.headers.get('content-encoding', 'identity') == 'gzip':
        value = response.headers.get('logical-size')
    else:
        value = response.headers.get('content-length')
    return int(value) if value is not None else None


def file_url(server: str, name: str) -> str:
    """The URL of file ``name`` (no version) on ``server``."""
    return server + '/files' + pathname2url(name)
