"""The XML-RPC server: sioworkersd's wire, as OIOIOI's ``xmlrpc.client`` speaks it.

* ``POST /`` (or ``/RPC2``), ``allow_none``; one thread per call, so a
  ``sync_run_group`` that waits for its jobs holds up no other caller.
* Answers are made marshallable first (:func:`marshallable`): tuples and sets
  become lists, bytes text, keys strings, and characters XML cannot carry
  U+FFFD; integers beyond 32 bits go out as ``<i8>`` (which Python's
  ``xmlrpc.client`` reads back as ``int``), carriage returns as ``&#13;``.
* Faults: ``8001`` no such method, ``8002`` a job of a ``sync_run_group``
  raised (as sioworkersd) or the gateway failed, ``8003`` bad input (the
  message names the key; nothing was queued).
* With a token (``--token-file``) every request must carry it, as the
  password of HTTP basic authentication (OIOIOI:
  ``SIOWORKERSD_URL = 'http://oioioi:TOKEN@host:7889/'``) or as
  ``Authorization: Bearer TOKEN``; other requests get HTTP 401.
"""

from __future__ import annotations

import base64
import hmac
import inspect
import logging
import re
import socket
import socketserver
import xmlrpc.client
from typing import Any, Callable
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

logger = logging.getLogger(__name__)

NOT_FOUND = 8001
FAILED = 8002
BAD_INPUT = 8003
#: The largest request accepted (bytes).
MAX_REQUEST = 256 << 20

_INT32 = (-2**31, 2**31 - 1)
_NOT_XML = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def _text(value: str) -> str:
    return _NOT_XML.sub('\ufffd', value)


def marshallable(value: Any) -> Any:
    """A copy of ``value`` that XML-RPC can carry (see the module docs)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k if isinstance(k, str) else str(k)): marshallable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [marshallable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((marshallable(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return _text(bytes(value).decode('utf-8', 'replace'))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _text(str(value))


class _Marshaller(xmlrpc.client.Marshaller):
    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_long(self, value, write):
        tag = 'int' if _INT32[0] <= value <= _INT32[1] else 'i8'
        write(f'<value><{tag}>{int(value)}</{tag}></value>\n')

    dispatch[int] = dump_long

    def dump_unicode(self, value, write, escape=xmlrpc.client.escape):
        write('<value><string>')
        write(escape(value).replace('\r', '&#13;'))
        write('</string></value>\n')

    dispatch[str] = dump_unicode


def dumps(response: Any) -> bytes:
    """A ``methodResponse`` for a value or a :class:`Fault`."""
    if isinstance(response, Fault):
        params: Any = Fault(response.faultCode, _text(str(response.faultString)))
    else:
        params = (marshallable(response),)
    body = _Marshaller('utf-8', allow_none=True).dumps(params)
    return ("<?xml version='1.0'?>\n<methodResponse>\n" + body +
            '</methodResponse>\n').encode('utf-8', 'xmlcharrefreplace')


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ('/', '/RPC2')
    protocol_version = 'HTTP/1.1'  # keep-alive for clients that reuse connections

    def do_POST(self):  # noqa: N802
        if not self.server.authorized(self.headers.get('Authorization')):
            self.send_response(401)
            self.send_header('WWW-Authenticate', 'Basic realm="sio-ray gateway"')
            self.send_header('Content-Length', '0')
            self.end_headers()
            self.close_connection = True  # the request's body was not read
            return
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST:
            self.send_response(413)
            self.send_header('Content-Length', '0')
            self.end_headers()
            self.close_connection = True
            return
        super().do_POST()

    def log_message(self, format, *args):  # noqa: A002
        logger.debug('%s %s', self.address_string(), format % args)


class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """Serves ``methods`` (name: function of the decoded call parameters)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], methods: dict[str, Callable],
                 token: str | None = None):
        self._methods = methods
        self._token = token
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, requestHandler=_Handler, logRequests=False, allow_none=True,
                         encoding='utf-8', use_builtin_types=True)

    def authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        if not header:
            return False
        scheme, _, credentials = header.partition(' ')
        if scheme.lower() == 'bearer':
            offered = credentials.strip()
        elif scheme.lower() == 'basic':
            try:
                offered = base64.b64decode(credentials.strip()).decode('utf-8').partition(':')[2]
            except (ValueError, UnicodeDecodeError):
                return False
        else:
            return False
        return hmac.compare_digest(offered.encode('utf-8'), self._token.encode('utf-8'))

    def _marshaled_dispatch(self, data, dispatch_method=None, path=None):
        try:
            params, method = xmlrpc.client.loads(data, use_builtin_types=True)
        except Exception as exc:
            return dumps(Fault(BAD_INPUT, f'not an XML-RPC call: {exc}'))
        function = self._methods.get(method)
        if function is None:
            return dumps(Fault(NOT_FOUND, f'procedure {method} not found'))
        try:
            inspect.signature(function).bind(*params)
        except TypeError as exc:
            return dumps(Fault(BAD_INPUT, f'{method}: {exc}'))
        try:
            return dumps(function(*params))
        except Fault as fault:
            return dumps(fault)
        except Exception as exc:
            logger.exception('%s failed', method)
            return dumps(Fault(FAILED, f'{method}: {type(exc).__name__}: {exc}'))
