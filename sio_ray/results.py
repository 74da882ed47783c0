"""Results the driver makes itself, for jobs that did not run to their end."""

from __future__ import annotations


def failure(environ: dict, message: str, traceback: str = '') -> dict:
    """``environ`` with ``result: FAILURE``, the ``exception`` message and a ``traceback``."""
    result = dict(environ)
    result.update(result='FAILURE', exception=message, traceback=traceback or message)
    return result
