"""The default output comparator, with oicompare's semantics and messages.

Outputs are compared token by token.  Spaces, tabs, ``\\v``, ``\\r`` and NUL
separate words; a line feed is a token of its own; line feeds at the end of
either file are ignored.  On a mismatch the message follows ``checker_format``
(``<language>_<terse|abbreviated|full>``, languages ``english`` and
``polish``), e.g. ``WRONG: line 3: expected "42", got "43"``.  Bytes that are
not printable ASCII (and ``"``, ``<``, ``>``) are shown as ``<0xHH>``; the
abbreviated form keeps each word within 100 characters around its first
difference.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(rb'[^\x00\t\v\r \n]+|\n')
_ABBREVIATED_MAX = 100
_ELLIPSIS = '…'
_ELLIPSIS_LEN = len(_ELLIPSIS.encode())

_TEXTS = {
    'english': {'wrong': 'WRONG', 'line': 'line', 'expected': 'expected', 'got': 'got',
                'eof': 'end of file', 'eol': 'end of line'},
    'polish': {'wrong': 'ŹLE', 'line': 'wiersz', 'expected': 'oczekiwano', 'got': 'otrzymano',
               'eof': 'koniec pliku', 'eol': 'koniec wiersza'},
}
_KINDS = ('terse', 'abbreviated', 'full')


@dataclass(frozen=True)
class Mismatch:
    """Where two outputs first differ: tokens are bytes, ``b'\\n'`` or None (end of file)."""

    line: int
    expected: bytes | None
    got: bytes | None
    #: Index of the first differing byte when both tokens are words.
    difference: int = 0


def _tokens(data, start: int):
    for match in _TOKEN.finditer(data, start):
        yield match.group()
    while True:
        yield None


def compare_bytes(expected, got) -> Mismatch | None:
    """The first mismatch between ``expected`` and ``got`` (bytes-like), or None."""
    if _identical(expected, got):
        return None
    # Skip the identical leading lines quickly, then walk the tokens.
    line, offset = 1, 0
    while True:
        end_a = expected.find(b'\n', offset)
        end_b = got.find(b'\n', offset)
        if end_a < 0 or end_a != end_b or expected[offset:end_a] != got[offset:end_b]:
            break
        offset, line = end_a + 1, line + 1
    first, second = _tokens(expected, offset), _tokens(got, offset)
    while True:
        a, b = next(first), next(second)
        if a is None:
            while b == b'\n':
                b = next(second)
        elif b is None:
            while a == b'\n':
                a = next(first)
        if a is None and b is None:
            return None
        if a != b:
            if a is None or b is None or b'\n' in (a, b):
                return Mismatch(line, a, b)
            difference = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                              min(len(a), len(b)))
            return Mismatch(line, a, b, difference)
        if a == b'\n':
            line += 1


def _identical(a, b, chunk: int = 1 << 20) -> bool:
    if len(a) != len(b):
        return False
    return all(a[i:i + chunk] == b[i:i + chunk] for i in range(0, len(a), chunk))


def compare_files(expected: str | Path, got: str | Path) -> Mismatch | None:
    """:func:`compare_bytes` of two files, memory-mapped."""
    with open(expected, 'rb') as fa, open(got, 'rb') as fb:
        with _mapped(fa) as a, _mapped(fb) as b:
            return compare_bytes(a, b)


class _mapped:
    def __init__(self, f):
        self.f = f
        self.map = None

    def __enter__(self):
        try:
            self.map = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)
            return self.map
        except ValueError:  # empty file
            return b''

    def __exit__(self, *exc_info):
        if self.map is not None:
            self.map.close()


def _char(byte: int) -> str:
    if 32 <= byte <= 126 and byte not in b'"<>':
        return chr(byte)
    return f'<0x{byte:02X}>'


def _width(data: bytes) -> int:
    return sum(1 if 32 <= b <= 126 and b not in b'"<>' else 6 for b in data)


def _fill(data: bytes, room: int) -> tuple[str, int, bool]:
    """As many leading characters of ``data`` as fit in ``room``; (text, width, all fitted)."""
    text, used = [], 0
    for byte in data:
        w = 1 if 32 <= byte <= 126 and byte not in b'"<>' else 6
        if used + w > room:
            return ''.join(text), used, False
        text.append(_char(byte))
        used += w
    return ''.join(text), used, True


def _word(word: bytes, difference: int, abbreviated: bool) -> str:
    if not abbreviated:
        return '"' + ''.join(_char(b) for b in word) + '"'
    n, d = len(word), difference
    # Always shown: the differing byte and its neighbours (and the first byte).
    used = 2 + (_width(word[d:d + 1]))
    if d > 0:
        used += _width(word[d - 1:d])
        if d > 1:
            used += _width(word[:1]) + (_ELLIPSIS_LEN if d > 2 else 0)
    if d < n - 1:
        used += _width(word[d + 1:d + 2]) + (_ELLIPSIS_LEN if d < n - 2 else 0)
    parts = ['"']
    if d > 0:
        if d > 1:
            parts.append(_char(word[0]))
            middle = word[1:d - 1]
            if middle:
                text, width, complete = _fill(middle, _ABBREVIATED_MAX - (used - _ELLIPSIS_LEN))
                parts.append(text if complete else text + _ELLIPSIS)
                used += width - (_ELLIPSIS_LEN if complete else 0)
        parts.append(_char(word[d - 1]))
    if d < n:
        parts.append(_char(word[d]))
    if d < n - 1:
        parts.append(_char(word[d + 1]))
        tail = word[d + 2:]
        if tail:
            text, width, complete = _fill(tail, _ABBREVIATED_MAX - (used - _ELLIPSIS_LEN))
            parts.append(text if complete else text + _ELLIPSIS)
    parts.append('"')
    return ''.join(parts)


def parse_format(checker_format: str | None) -> tuple[str, str]:
    """``(language, kind)`` of a ``checker_format``; unknown parts fall back to
    ``english`` / ``abbreviated`` (OIOIOI sends its user's interface language)."""
    language, _, kind = (checker_format or 'english_abbreviated').rpartition('_')
    if kind not in _KINDS:
        language, kind = checker_format or '', 'abbreviated'
    return (language if language in _TEXTS else 'english'), kind


def message(mismatch: Mismatch, checker_format: str | None = None) -> str:
    """The verdict line for ``mismatch`` in ``checker_format``."""
    language, kind = parse_format(checker_format)
    t = _TEXTS[language]
    if kind == 'terse':
        return t['wrong']

    def show(token: bytes | None) -> str:
        if token is None:
            return t['eof']
        if token == b'\n':
            return t['eol']
        return _word(token, mismatch.difference, kind == 'abbreviated')

    return (f"{t['wrong']}: {t['line']} {mismatch.line}: {t['expected']} "
            f"{show(mismatch.expected)}, {t['got']} {show(mismatch.got)}")
