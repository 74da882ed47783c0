"""What a job reports: result codes, and the result of a job that failed.

A job that ran reports ``result: SUCCESS`` and, when it judged a program, a
``result_code`` (upstream's codes, kept as they are because OIOIOI reads
them):

=======  ===================================================================
code     meaning
=======  ===================================================================
``OK``   the program ran within its limits (and its output was accepted)
``WA``   its output was rejected (checker, comparator, interactor)
``TLE``  time limit (CPU or wall-clock) exceeded
``MLE``  memory limit exceeded
``OLE``  output limit exceeded
``RV``   a rule of the box was broken (a forbidden system call)
``RE``   it exited with a non-zero code or was killed by a signal
``SE``   the box or its supervisor failed (a system error, not a verdict)
``CE``   compilation failed
=======  ===================================================================

A job that could not be performed — bad input, a checker that failed, a lost
node, a cancellation, a bound passed — reports ``result: FAILURE`` with
``exception`` (the message) and ``traceback``; :func:`failure` is the one
place that builds it, for the runner and for ``sio_ray`` alike.
"""

from __future__ import annotations

import traceback as _traceback

__all__ = ['OK', 'WA', 'TLE', 'MLE', 'OLE', 'RV', 'RE', 'SE', 'CE', 'SUCCESS', 'FAILURE',
           'RESULT_KEYS', 'failure']

OK = 'OK'
WA = 'WA'
TLE = 'TLE'
MLE = 'MLE'
OLE = 'OLE'
RV = 'RV'
RE = 'RE'
SE = 'SE'
CE = 'CE'

#: ``environ['result']`` of a job that ran to its end.
SUCCESS = 'SUCCESS'
#: ``environ['result']`` of a job that did not.
FAILURE = 'FAILURE'
#: The keys the runner owns: set for every finished job, stale ones dropped.
RESULT_KEYS = ('result', 'exception', 'traceback')


def failure(environ: dict, error: BaseException | str, traceback: str | None = None) -> dict:
    """A copy of ``environ`` with ``result: FAILURE``, ``exception`` and ``traceback``.

    ``error`` is the exception that ended the job (its message, or its type's
    name when it has none, becomes ``exception``; its formatted traceback
    ``traceback``) or a message.  A message without a ``traceback`` has
    itself as the traceback, so both keys always say something.
    """
    if isinstance(error, BaseException):
        message = str(error) or type(error).__name__
        if traceback is None:
            traceback = ''.join(_traceback.format_exception(error))
    else:
        message = str(error)
    result = dict(environ)
    result.update(result=FAILURE, exception=message, traceback=traceback or message)
    return result
