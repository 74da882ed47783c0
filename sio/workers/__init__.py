"""The plain-Python core of sio-ray: environ contract, runner, plugins, filetracker
access, software sandboxes and process execution.  Never imports Ray."""

import os

#: The process's working directory when :mod:`sio.workers` was imported.  Local
#: (non-filetracker) paths in an environ are relative to it (``use_filetracker``).
_original_cwd = os.getcwd()


class Failure(Exception):
    """An expected job error.

    Raising it from a job or filter is the documented way to end the job with
    ``result: FAILURE``; the runner records ``str(exc)`` in ``exception`` and the
    formatted traceback in ``traceback``.  (Any other exception is recorded the
    same way; ``Failure`` says the error was foreseen.)
    """
