"""The environ contract: what an environ may hold, and its JSON and msgpack codecs.

An environ is a :class:`dict` with :class:`str` keys whose values are JSON
values: ``str``, ``int``, ``float``, ``bool``, ``None``, ``list`` and ``dict``
(again with ``str`` keys), nested to any reasonable depth.  Every valid environ
round-trips exactly through both codecs, so the same environ can travel through
``sio-batch`` (JSON), a Ray task or a result journal (msgpack).
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack

#: Deepest nesting accepted (msgpack and most JSON parsers give up far deeper).
MAX_DEPTH = 200
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


class EnvironError(ValueError):
    """An environ that breaks the contract; ``path`` names the offending key."""

    def __init__(self, path: str, problem: str):
        super().__init__(f'{path}: {problem}')
        self.path = path
        self.problem = problem


def _key_path(parts: tuple) -> str:
    return 'environ' + ''.join(f'[{p!r}]' for p in parts)


def _check_str(s: str, parts: tuple) -> None:
    try:
        s.encode('utf-8')
    except UnicodeEncodeError:
        raise EnvironError(_key_path(parts), 'str is not valid Unicode (lone surrogate)') from None


def _scalar_problem(value: Any) -> str | None:
    """Why a non-container value is not a JSON value, or None when it is one."""
    if value is None or isinstance(value, (bool, str)):
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        shown = value if value.bit_length() <= 256 else f'of {value.bit_length()} bits'
        return f'int {shown} is out of the 64-bit range'
    if isinstance(value, float):
        return None if math.isfinite(value) else f'float {value} is not JSON-compatible'
    return f'{type(value).__name__} is not JSON-compatible'


def validate(environ: Any) -> None:
    """Raise :class:`EnvironError` unless ``environ`` is a valid environ.

    The error names the key path and what is wrong, e.g.
    ``environ['extra_files']['a.h']: bytes is not JSON-compatible``.
    """
    if not isinstance(environ, dict):
        raise EnvironError('environ', f'must be a dict, not {type(environ).__name__}')
    _walk(environ, convert=False)


def normalize(value: Any) -> Any:
    """A JSON-valid copy of ``value``: ``bytes`` become text (invalid UTF-8
    replaced), tuples become lists.  Anything else invalid raises
    :class:`EnvironError`.  Used on what jobs return, since upstream jobs put
    byte strings and tuples into their results."""
    return _walk(value, convert=True)


def _walk(root: Any, convert: bool) -> Any:
    # Iterative, so that hostile nesting cannot overflow the Python stack.
    def convert_leaf(value, parts):
        if isinstance(value, str):
            _check_str(value, parts)
            return value
        if convert and isinstance(value, (bytes, bytearray)):
            return bytes(value).decode('utf-8', errors='replace')
        problem = _scalar_problem(value)
        if problem:
            raise EnvironError(_key_path(parts), problem)
        return value

    def container(value, parts):
        if isinstance(value, dict):
            return {}
        if isinstance(value, list) or (convert and isinstance(value, tuple)):
            return []
        return None

    out = container(root, ())
    if out is None:
        return convert_leaf(root, ())
    stack = [(root, out, ())]
    while stack:
        src, dst, parts = stack.pop()
        if len(parts) >= MAX_DEPTH:
            raise EnvironError(_key_path(parts), f'nested deeper than {MAX_DEPTH} levels')
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, value in items:
            if isinstance(src, dict):
                if not isinstance(key, str):
                    raise EnvironError(
                        _key_path(parts), f'key {key!r} is {type(key).__name__}, not str'
                    )
                _check_str(key, parts)
            here = parts + (key,)
            child = container(value, here)
            if child is None:
                child = convert_leaf(value, here)
            else:
                stack.append((value, child, here))
            if isinstance(dst, dict):
                dst[key] = child
            else:
                dst.append(child)
    return out if convert else root


def to_json(environ: dict, indent: int | None = None) -> str:
    """Encode a valid environ as JSON text (ASCII-only, so any terminal or pipe takes it)."""
    return json.dumps(environ, allow_nan=False, indent=indent)


def from_json(text: str | bytes) -> dict:
    """Decode JSON text into a validated environ.

    A JSON string that itself holds JSON is decoded again (CI servers such as
    Jenkins double-quote the ``environ`` variable; upstream accepts that).
    Raises :class:`EnvironError` for invalid JSON or a non-object.
    """
    try:
        value = json.loads(text)
        if isinstance(value, str):
            value = json.loads(value)
    except ValueError as exc:
        raise EnvironError('environ', f'invalid JSON: {exc}') from None
    validate(value)
    return value


def pack(environ: dict) -> bytes:
    """Encode a valid environ as msgpack bytes."""
    return msgpack.packb(environ, use_bin_type=True)


def unpack(data: bytes) -> dict:
    """Decode msgpack bytes made by :func:`pack` into a validated environ."""
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as exc:
        raise EnvironError('environ', f'invalid msgpack: {exc}') from None
    validate(value)
    return value
