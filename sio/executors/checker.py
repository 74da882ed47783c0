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
  ``chk in out hint``; the exit code as testlib's ``quit`` makes it: 0 OK,
  1 WA, 2 presentation error (WA; also ``_dirt``, which testlib reports as
  PE), 4 "dirt" (WA, older testlib), 8 unexpected end of file (WA, testlib
  with ``ENABLE_UNEXPECTED_EOF``), 7 points (``quitp``: the number after
  ``points`` in the message is the score in [0, 1]) and
  ``PC_BASE_EXIT_CODE + k`` partially correct with k percent
  (``quitf(_pc(k))``, k from 0 to 100); 3 (FAIL) and anything else is a
  checker failure.  The message is the checker's standard error.
``kattis``
  ``chk in hint feedback_dir < out``; exit 42 accepted, 43 wrong answer,
  anything else a checker failure; ``feedback_dir/judgemessage.txt`` is the
  message and ``score.txt`` (if any) the percentage.

**testlib's partial scores.**  ``PC_BASE_EXIT_CODE`` is fixed when the checker
is compiled: 0 by default, 50 with ``-DTESTSYS`` (never 16: that is the
``_partially`` value of testlib's ``TResult``, not an exit code).  The job
cannot see which, so ``checker_testlib_pc_base`` says it: ``0`` (the default:
a checker built plainly, ``g++ chk.cpp``, as a contest's package compiles
it) or ``50`` (built with ``-DTESTSYS``); any base from 0 to 155 is accepted.
With base 0, ``_pc(k)`` for k = 0…8 exits with the code of a fixed verdict
(``_pc(1)`` exits 1, like WA).  testlib itself tells them apart only in its
message, which starts ``partially correct (k)``; so does the job: that
message with exit code ``base + k`` is k percent whatever the code, and
without it a fixed code keeps its fixed meaning.  A message naming k with
any other exit code is a checker failure that names the base the checker
was built with (``-DTESTSYS`` or not), so a wrong setting never scores.

**What is read back.**  A checker may be hostile (``untrusted_checker``) or
broken, so its standard output and error go to files of the worker's, read
up to a cap (64 KiB of output, 4 KiB of error), and the Kattis feedback files
are read from its box by :mod:`sio.workers.isolation.boxfiles`: never
through a symbolic link (in ``feedback/`` or the file itself), only a
regular file (a FIFO or device is refused unopened), at most 4 KiB of
``judgemessage.txt`` and 256 bytes of ``score.txt``.  Anything else there is
a checker failure naming the file and what it is, never its content.

Without ``chk_file`` the built-in comparator (:mod:`sio.executors.comparator`)
decides, with ``checker_format`` messages.  ``untrusted_checker`` runs the
checker in the isolated executor; otherwise it runs unprotected.

**Limits** (:data:`LIMITS`): ``checker_time_limit`` (30 000 ms),
``checker_mem_limit`` (262 144 KiB), ``checker_real_time_limit`` (default
twice the time limit, plus a second when isolated), ``checker_output_limit``.
The checker runs after the program has ended, so a job reserves the larger
of the two memory limits, not their sum (:func:`reserved_kib`); as upstream's
scheduler, ``check_output`` alone counts the checker's limit, also for the
built-in comparator.
"""

from __future__ import annotations

import re
import shutil
from fractions import Fraction
from pathlib import Path

from sio.executors import comparator
from sio.workers import ft
from sio.workers.executors import (ExecutionResult, IsolatedExecutor, Limits, UnprotectedExecutor,
                                   cap_result_string)
from sio.workers.isolation.boxfiles import BoxFileError, read_box_file
from sio.workers.results import OK, RE, WA
from sio.workers.wallbound import run_wall

#: The checker's limits (``checker_*`` keys) when the environ gives none.
LIMITS = Limits(time_limit=30_000, mem_limit=256 << 10)
#: The keys of :data:`LIMITS` in the environ.
PREFIX = 'checker_'
PROTOCOLS = ('sio', 'testlib', 'kattis')
#: Most bytes read of a checker's standard output, standard error, Kattis
#: ``judgemessage.txt`` and ``score.txt``.
STDOUT_LIMIT, STDERR_LIMIT, JUDGEMESSAGE_LIMIT, SCORE_LIMIT = 64 << 10, 4096, 4096, 256
#: testlib's ``PC_BASE_EXIT_CODE`` unless ``checker_testlib_pc_base`` says otherwise.
DEFAULT_TESTLIB_PC_BASE = 0

_NUMBER = re.compile(r'^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$')
#: Bounds of a percentage or a number of points a checker prints (the worker
#: computes it exactly, outside any box: 1e15000000 would take minutes).
MAX_PERCENTAGE_CHARS = 64
MAX_EXPONENT = 30


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
    if len(text) > MAX_PERCENTAGE_CHARS:  # the worker computes it: keep it small
        raise CheckerError(f'checker printed an invalid percentage: {text[:40]!r}... '
                           f'(over {MAX_PERCENTAGE_CHARS} characters)')
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
                if abs(int(exponent)) > MAX_EXPONENT:
                    raise ValueError
                value *= Fraction(10) ** int(exponent)
    except (ValueError, ZeroDivisionError):
        raise CheckerError(f'checker printed an invalid percentage: {text!r}') from None
    return value.numerator, value.denominator


def limits(environ: dict) -> Limits:
    """The checker's limits: the environ's ``checker_*`` keys over :data:`LIMITS`."""
    return Limits.resolve(LIMITS, environ, PREFIX)


def runs_program(environ: dict) -> bool:
    """Whether the job runs a checker program (``check_output`` with ``chk_file``)."""
    return bool(environ.get('check_output') and environ.get('chk_file'))


def needs_sandbox(environ: dict) -> bool:
    """Whether the checker program runs in the isolated executor."""
    return runs_program(environ) and bool(environ.get('untrusted_checker'))


def reserved_kib(environ: dict) -> int:
    """The memory (KiB) to reserve for checking: the checker's memory limit
    with ``check_output`` (upstream's rule, comparator included), else 0."""
    if not environ.get('check_output'):
        return 0
    return limits(environ).mem_limit or LIMITS.mem_limit


def wall(environ: dict) -> tuple[float, str] | None:
    """The checker's wall-clock limit (ms) and how it follows from the
    environ: ``(0, '')`` when no checker program runs, None when it runs
    without a wall-clock limit (see :func:`sio.workers.wallbound.run_wall`)."""
    if not runs_program(environ):
        return 0, ''
    return run_wall(environ, PREFIX, 'checker', isolated=needs_sandbox(environ),
                    default_ms=LIMITS.time_limit)


def _verdict(environ: dict, ok: bool, message: str, percentage: tuple[int, int]) -> None:
    environ['result_code'] = OK if ok else WA
    if message or not ok:
        environ['result_string'] = cap_result_string(message)
    environ['result_percentage'] = list(percentage if ok else (0, 1))


def _executor(environ: dict):
    return IsolatedExecutor() if environ.get('untrusted_checker') else UnprotectedExecutor()


def _read_capped(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a file the worker made for a checker's stream."""
    try:
        return read_box_file(path.parent, path.name, limit).data
    except (BoxFileError, OSError):
        return b''


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
    run_limits = limits(environ)
    pc_base = _testlib_pc_base(environ) if protocol == 'testlib' else None
    executor = _executor(environ)
    # Its streams go to the worker's own files (outside the box), read back capped.
    stdout_path, stderr_path = job_dir / 'checker.stdout', job_dir / 'checker.stderr'
    with open(stdout_path, 'wb') as stdout, open(stderr_path, 'wb') as stderr:
        if protocol == 'kattis':
            (box / 'feedback').mkdir(exist_ok=True)
            with open(box / 'out', 'rb') as stdin:
                result = executor(['./chk', 'in', 'hint', 'feedback/'], cwd=box, stdin=stdin,
                                  stdout=stdout, stderr=stderr, ignore_errors=True,
                                  keep_files=True, **vars(run_limits))
        else:
            result = executor(['./chk', 'in', 'out', 'hint'], cwd=box, stdout=stdout,
                              stderr=stderr, ignore_errors=True, **vars(run_limits))
    result.stdout = _read_capped(stdout_path, STDOUT_LIMIT).split(b'\n')
    stderr_text = _read_capped(stderr_path, STDERR_LIMIT).decode('utf-8', errors='replace')
    if protocol == 'sio':
        read_sio(environ, result, stderr_text)
    elif protocol == 'testlib':
        read_testlib(environ, result, stderr_text, pc_base)
    else:
        read_kattis(environ, result, stderr_text, box)


def _testlib_pc_base(environ: dict) -> int:
    base = environ.get('checker_testlib_pc_base', DEFAULT_TESTLIB_PC_BASE)
    if isinstance(base, bool) or not isinstance(base, int) or not 0 <= base <= 155:
        raise ValueError(f"environ['checker_testlib_pc_base']: {base!r} is not testlib's "
                         'PC_BASE_EXIT_CODE (0 for a plain build, 50 for -DTESTSYS; 0 to 155)')
    return base


def _failure(protocol: str, result: ExecutionResult, stderr: str) -> CheckerError:
    return CheckerError(f'checker ({protocol} protocol) failed: {result.result_string}'
                        + (f'; stderr: {stderr.strip()}' if stderr.strip() else ''))


def read_sio(environ: dict, result: ExecutionResult, stderr: str) -> None:
    """The verdict of a ``sio`` checker from its run (``result.stdout`` holds
    its lines), into ``environ``; a failed checker raises :class:`CheckerError`."""
    if result.result_code not in (OK, RE) or result.return_code >= 2 \
            or result.return_code < 0:
        raise _failure('sio', result, stderr)
    lines = list(result.stdout or []) + [b'', b'', b'']
    ok = lines[0].rstrip(b'\r') == b'OK'
    message = lines[1].decode('utf-8', errors='replace').rstrip('\r')
    percentage = parse_percentage(lines[2]) if ok else (0, 1)
    _verdict(environ, ok, message, percentage)


#: testlib's line of ``quitf(_pc(k), ...)``, and of ``quitp(points, ...)`` (its
#: last line of standard error: a checker may print other lines before it).
_TESTLIB_PARTIAL = re.compile(r'^\s*partially correct \((-?\d+)\)', re.MULTILINE)
_TESTLIB_POINTS = re.compile(r'^\s*points\s+([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)',
                             re.MULTILINE)
_NUMBER_ANYWHERE = re.compile(r'[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')


def _points_percentage(number: str) -> str:
    """testlib's points (a number in [0, 1]) as a percentage, bounded like one."""
    exponent = number.lower().partition('e')[2]
    if len(number) > MAX_PERCENTAGE_CHARS or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise CheckerError(f'testlib checker reported points out of range: {number[:40]!r}')
    return str(Fraction(number) * 100)


def _last(pattern: re.Pattern, text: str) -> str | None:
    """The first group of the last match of ``pattern`` in ``text``."""
    found = pattern.findall(text)
    return found[-1] if found else None


#: testlib's fixed exit codes that are wrong answers: WA, PE (and ``_dirt``),
#: old testlib's "dirt", unexpected EOF.
_TESTLIB_WRONG = (1, 2, 4, 8)


def read_testlib(environ: dict, result: ExecutionResult, stderr: str, pc_base: int) -> None:
    """The verdict of a testlib checker built with ``PC_BASE_EXIT_CODE``
    ``pc_base`` from its exit code and standard error, into ``environ``; a
    failed checker raises :class:`CheckerError`."""
    code = result.return_code
    message = stderr.strip()
    if result.result_code not in (OK, RE) or code < 0:
        raise _failure('testlib', result, stderr)
    partial = _last(_TESTLIB_PARTIAL, message)
    if partial is not None:
        # testlib's own word; the exit code must agree with the base it was built with.
        k = int(partial)
        if code == pc_base + k and 0 <= k <= 100:
            _verdict(environ, True, message, (k, 1))
            return
        if 0 <= k <= 100:
            built = code - k
            hint = {0: 'without -DTESTSYS (set checker_testlib_pc_base to 0)',
                    50: 'with -DTESTSYS (set checker_testlib_pc_base to 50)'}.get(
                        built, f'with PC_BASE_EXIT_CODE {built}')
            raise CheckerError(
                f'testlib checker said "partially correct ({k})" but exited with {code}, not '
                f'{pc_base + k} (checker_testlib_pc_base is {pc_base}): it was built {hint}')
        raise CheckerError(f'testlib checker gave a partial score of {k} percent, outside 0..100:'
                           f' {message!r}')
    if code == 0:
        _verdict(environ, True, message, (100, 1))
    elif code in _TESTLIB_WRONG:
        _verdict(environ, False, message, (0, 1))
    elif code == 7:
        # quitp's line is "points <value> <text>"; a hand-made one may put it anywhere.
        number = _last(_TESTLIB_POINTS, message)
        if number is None:
            first = _NUMBER_ANYWHERE.search(message)
            if first is None:
                raise CheckerError(
                    f'testlib checker reported points without a number: {message!r}')
            number = first.group()
        _verdict(environ, True, message, parse_percentage(_points_percentage(number)))
    elif code != 3 and pc_base <= code <= pc_base + 100:
        _verdict(environ, True, message, (code - pc_base, 1))
    else:
        raise _failure('testlib', result, stderr)


def _feedback(box: Path, name: str, limit: int):
    """A Kattis feedback file (None if the checker wrote none), read safely."""
    try:
        return read_box_file(box, f'feedback/{name}', limit, missing_ok=True)
    except BoxFileError as exc:
        raise CheckerError(f'checker (kattis protocol) failed: its feedback file {exc}') from None


def read_kattis(environ: dict, result: ExecutionResult, stderr: str, box: Path) -> None:
    """The verdict of a Kattis checker from its exit code and the feedback
    files in ``box``, into ``environ``; a failed checker raises :class:`CheckerError`."""
    if result.return_code not in (42, 43):
        raise _failure('kattis', result, stderr)
    judgemessage = _feedback(box, 'judgemessage.txt', JUDGEMESSAGE_LIMIT)
    message = judgemessage.data.decode('utf-8', errors='replace').strip() if judgemessage else ''
    if result.return_code == 43:
        _verdict(environ, False, message, (0, 1))
        return
    score = _feedback(box, 'score.txt', SCORE_LIMIT)
    if score is not None and score.truncated:
        raise CheckerError(f'checker (kattis protocol) failed: its feedback file '
                           f"'feedback/score.txt' is larger than {SCORE_LIMIT} bytes")
    _verdict(environ, True, message, parse_percentage(score.data) if score else (100, 1))
