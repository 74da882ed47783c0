"""Output checking: the default comparator or a custom checker, in one of three protocols.

``checker_protocol`` (default ``sio``) says how a custom checker (``chk_file``)
is called and read:

``sio``
  ``chk in out hint``; standard output line 1 ``OK`` (else the answer is
  wrong), line 2 a message, line 3 a percentage (exact: ``42``, ``42.5``,
  ``1e2``, ``84/2``; empty means 100).  Exit status 0 or 1 is a verdict; 2 or
  more is a checker failure (the job fails, naming it, with the checker's
  standard error).
``testlib``
  ``chk in out hint``; exit 0 OK, 1 WA, 2 presentation error (WA), 4 "dirt"
  (WA), 7 points (the first number of the message is the score in [0, 1]),
  16+k partially correct with k percent; 3 (FAIL) and anything else is a
  checker failure.  The message is the checker's standard error.
``kattis``
  ``chk in hint feedback_dir < out``; exit 42 accepted, 43 wrong answer,
  anything else a checker failure; ``feedback_dir/judgemessage.txt`` is the
  message and ``score.txt`` (if any) the percentage.

Without ``chk_file`` the built-in comparator (:mod:`sio.executors.comparator`)
decides, with ``checker_format`` messages.  ``untrusted_checker`` runs the
checker in the isolated executor; otherwise it runs unprotected.
"""

from __future__ import annotations

import re
import shutil
from fractions import Fraction
from pathlib import Path

from sio.executors import comparator
from sio.workers import ft
from sio.workers.executors import (ExecutionResult, IsolatedExecutor, UnprotectedExecutor,
                                   cap_result_string)

DEFAULT_CHECKER_LIMITS = {'time_limit': 30_000, 'mem_limit': 262_144}
PROTOCOLS = ('sio', 'testlib', 'kattis')

_NUMBER = re.compile(r'^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$')


class CheckerError(Exception):
    """The checker itself failed: a system problem, not a verdict."""


def parse_percentage(text: str | bytes) -> tuple[int, int]:
    """The exact, reduced fraction written by a checker: ``''`` is 100,
    ``'42.123'`` is (42123, 1000), ``'84/2'`` is (42, 1).  Anything else
    raises :class:`CheckerError`."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', errors='replace')
    text = text.strip()
    if not text:
        return 100, 1
    numerator, slash, denominator = text.partition('/')
    try:
        if slash:
            if not (numerator.isdigit() and denominator.isdigit()):
                raise ValueError
            value = Fraction(int(numerator), int(denominator))
        else:
            match = _NUMBER.match(numerator)
            if not match:
                raise ValueError
            whole, fraction, exponent = match.groups()
            value = Fraction(int(whole + (fraction or '')), 10 ** len(fraction or ''))
            if exponent:
                value *= Fraction(10) ** int(exponent)
    except (ValueError, ZeroDivisionError):
        raise CheckerError(f'checker printed an invalid percentage: {text!r}') from None
    return value.numerator, value.denominator


def _verdict(environ: dict, ok: bool, message: str, percentage: tuple[int, int]) -> None:
    environ['result_code'] = 'OK' if ok else 'WA'
    if message or not ok:
        environ['result_string'] = cap_result_string(message)
    environ['result_percentage'] = list(percentage if ok else (0, 1))


def _executor(environ: dict):
    return IsolatedExecutor() if environ.get('untrusted_checker') else UnprotectedExecutor()


def _stderr_text(path: Path) -> str:
    try:
        return path.read_bytes()[:4096].decode('utf-8', errors='replace')
    except OSError:
        return ''


def check_output(environ: dict, out: Path, job_dir: Path) -> None:
    """Judge the program's output file ``out`` against ``hint_file``; write
    ``result_code``, ``result_string`` and ``result_percentage``."""
    hint = Path(ft.download(environ, 'hint_file', str(job_dir / 'hint'), add_to_cache=True))
    protocol = environ.get('checker_protocol', 'sio')
    if protocol not in PROTOCOLS:
        raise ValueError(f"environ['checker_protocol']: {protocol!r} is not one of "
                         f"{', '.join(PROTOCOLS)}")
    if not environ.get('chk_file'):
        mismatch = comparator.compare_files(hint, out)
        if mismatch is None:
            _verdict(environ, True, '', (100, 1))
        else:
            _verdict(environ, False, comparator.message(mismatch, environ.get('checker_format')),
                     (0, 1))
        return
    # The checker works in a box directory of its own, holding only its inputs.
    box = job_dir / 'checker'
    box.mkdir(exist_ok=True)
    chk = Path(ft.download(environ, 'chk_file', str(box / 'chk'), add_to_cache=True))
    chk.chmod(0o755)
    ft.download(environ, 'in_file', str(box / 'in'), add_to_cache=True)
    shutil.copyfile(hint, box / 'hint')
    shutil.copyfile(out, box / 'out')
    limits = {k: environ.get('checker_' + k, v) for k, v in DEFAULT_CHECKER_LIMITS.items()}
    executor = _executor(environ)
    stderr_path = job_dir / 'checker.stderr'
    with open(stderr_path, 'wb') as stderr:
        if protocol == 'kattis':
            (box / 'feedback').mkdir(exist_ok=True)
            with open(box / 'out', 'rb') as stdin:
                result = executor(['./chk', 'in', 'hint', 'feedback/'], cwd=box, stdin=stdin,
                                  stderr=stderr, capture_output=True, ignore_errors=True,
                                  environ=environ, environ_prefix='checker_', **limits)
        else:
            result = executor(['./chk', 'in', 'out', 'hint'], cwd=box, stderr=stderr,
                              capture_output=True, split_lines=True, ignore_errors=True,
                              environ=environ, environ_prefix='checker_', **limits)
    {'sio': _read_sio, 'testlib': _read_testlib, 'kattis': _read_kattis}[protocol](
        environ, result, _stderr_text(stderr_path), box)


def _failure(protocol: str, result: ExecutionResult, stderr: str) -> CheckerError:
    return CheckerError(f'checker ({protocol} protocol) failed: {result.result_string}'
                        + (f'; stderr: {stderr.strip()}' if stderr.strip() else ''))


def _read_sio(environ, result, stderr, box):
    if result.result_code not in ('OK', 'RE') or result.return_code >= 2 \
            or result.return_code < 0:
        raise _failure('sio', result, stderr)
    lines = list(result.stdout or []) + [b'', b'', b'']
    ok = lines[0].rstrip(b'\r') == b'OK'
    message = lines[1].decode('utf-8', errors='replace').rstrip('\r')
    percentage = parse_percentage(lines[2]) if ok else (0, 1)
    _verdict(environ, ok, message, percentage)


def _read_testlib(environ, result, stderr, box):
    code = result.return_code
    message = stderr.strip()
    if result.result_code not in ('OK', 'RE') or code < 0:
        raise _failure('testlib', result, stderr)
    if code == 0:
        _verdict(environ, True, message, (100, 1))
    elif code in (1, 2, 4):
        _verdict(environ, False, message, (0, 1))
    elif code == 7:
        score = re.search(r'[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?', message)
        if not score:
            raise CheckerError(f'testlib checker reported points without a number: {message!r}')
        _verdict(environ, True, message, parse_percentage(str(Fraction(score.group()) * 100)))
    elif 16 <= code <= 116:
        _verdict(environ, True, message, (code - 16, 1))
    else:
        raise _failure('testlib', result, stderr)


def _read_kattis(environ, result, stderr, box):
    feedback = box / 'feedback'
    message = _stderr_text(feedback / 'judgemessage.txt').strip()
    if result.return_code == 42:
        score = feedback / 'score.txt'
        percentage = parse_percentage(score.read_text()) if score.exists() else (100, 1)
        _verdict(environ, True, message, percentage)
    elif result.return_code == 43:
        _verdict(environ, False, message, (0, 1))
    else:
        raise _failure('kattis', result, stderr)

