"""A plugin package for sio-ray's tests, installed like any third-party plugin."""

import os
import subprocess
import sys
import time

from sio.workers import Failure
from sio.workers.util import tempcwd


def echo_job(environ):
    """Copies ``echo`` to ``echoed`` and notes the filters that ran before it.
    With ``print``, prints that text on standard output, from Python and from
    a child process (``sio-batch`` must keep both out of its result)."""
    if environ.get('print'):
        print(environ['print'], flush=True)
        subprocess.run(['echo', environ['print']], check=True)
    environ['echoed'] = environ.get('echo')
    environ['marks_seen_by_job'] = list(environ.get('marks', []))
    return environ


def raising_job(environ):
    if environ.get('expected'):
        raise Failure('expected trouble: ' + str(environ['expected']))
    raise ZeroDivisionError('unexpected trouble')


def results_only_job(environ):
    """Returns a new dict with results only, as upstream ingen/inwer do."""
    return {'return_code': 0, 'collected': ['a', 'b']}


def bytes_job(environ):
    """Leaves bytes and a tuple in the environ, as upstream executors do."""
    environ['stdout'] = [b'line \xff', b'two']
    environ['result_percentage'] = (1, 2)
    if environ.get('unserialisable'):
        environ['bad'] = {1, 2}
    return environ


def cwd_job(environ):
    """Records its working directory, writes a file there and reads it back;
    in between, with ``arrive`` and ``wait_for``, it announces itself and
    waits for files as ``test-wait`` does (a test can hold it there)."""
    with open('marker', 'w') as f:
        f.write(environ.get('tag', ''))
    if environ.get('arrive') or environ.get('wait_for'):
        _meet(environ)
    with open('marker') as f:
        environ['marker_read_back'] = f.read()
    environ['cwd'] = os.getcwd()
    environ['tempcwd'] = tempcwd()
    return environ


def sleep_job(environ):
    """Sleeps ``sleep`` seconds and records when it ran (``started``, ``ended``)."""
    environ['started'] = time.time()
    end = time.monotonic() + environ.get('sleep', 0)
    while time.monotonic() < end:  # in slices, so that a cancelled task stops soon
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))
    environ['ended'] = time.time()
    return environ


def read_job(environ):
    """Reads ``in_file``, ``hint_file`` and ``exe_file`` (those named) through
    the node's filetracker cache, as a test's exec and checker would, then
    "runs" for ``sleep`` seconds; records the bytes read (``read_bytes``) and
    how many of the files were not read straight from the node's store
    (``cold_reads``: they came through the node cache server, or from the
    central server).  With ``arrive`` and ``wait_for``, it then announces
    itself and waits for files as ``test-wait`` does (a test can hold it)."""
    from sio.workers import ft, stats
    keys = [key for key in ('in_file', 'hint_file', 'exe_file') if environ.get(key)]
    hits = stats.totals().get('ft_cache_hits', 0)
    environ['read_bytes'] = sum(
        os.path.getsize(ft.download(environ, key, key, add_to_cache=True)) for key in keys)
    environ['cold_reads'] = len(keys) - (stats.totals().get('ft_cache_hits', 0) - hits)
    if environ.get('arrive') or environ.get('wait_for'):
        _meet(environ)
    time.sleep(environ.get('sleep', 0))
    return environ


def hang_job(environ):
    """Hangs for good, as a job whose checker left a FIFO where feedback is read.

    Starts a child process whose command line holds ``marker``, appends its
    pid to ``starts_file`` (one line per attempt), then blocks opening a FIFO
    nobody writes: an interruption cannot wake it."""
    import subprocess
    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(10**6)',
                      environ.get('marker', 'test-hang-child')])
    if environ.get('starts_file'):
        with open(environ['starts_file'], 'a') as f:
            f.write(f'{os.getpid()}\n')
    fifo = os.path.join(tempcwd(), 'feedback')
    os.mkfifo(fifo)
    with open(fifo) as f:
        f.read()
    return environ


def wait_job(environ):
    """Creates the file ``arrive`` (if given), then waits until every path of
    ``wait_for`` exists (at most ``wait_timeout`` s, default 120, then fails);
    records when it ran (``started``, ``ended``)."""
    environ['started'] = time.time()
    _meet(environ)
    environ['ended'] = time.time()
    return environ


def _meet(environ):
    if environ.get('arrive'):
        open(environ['arrive'], 'a').close()
    deadline = time.monotonic() + environ.get('wait_timeout', 120)
    while not all(os.path.exists(p) for p in environ.get('wait_for', [])):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited in vain for {environ.get('wait_for')}")
        time.sleep(0.02)


def stamp_start_filter(environ):
    """Records when the job started on its worker (``stamp_started``)."""
    environ['stamp_started'] = time.time()
    return environ


def pid_file_filter(environ):
    """Writes the pid of the process running the job to ``pid_file``."""
    with open(environ['pid_file'], 'w') as f:
        f.write(str(os.getpid()))
    return environ


def stamp_end_filter(environ):
    """Records when the job ended on its worker (``stamp_ended``)."""
    environ['stamp_ended'] = time.time()
    return environ


def exclusive_requirements(environ, base):
    """``test-exclusive`` jobs need a node of their own, like cpu-exec."""
    return base.replace(exclusive=True)


def isolated_requirements(environ, base):
    """``test-boxed-wait`` jobs (``test-wait`` otherwise) go only where boxes work."""
    return base.replace(isolated=True)


def mark_filter(environ):
    environ.setdefault('marks', []).append('test-mark')
    return environ


def broken_filter(environ):
    raise RuntimeError('broken filter')


def echo_requirements(environ, base):
    return base.replace(memory_mib=environ.get('echo_mib', 7.0), isolated=True)


def exit_job(environ):
    sys.exit(3)


def node_id_filter(environ):
    """Records the Ray node the job ran on (when it runs in a Ray worker)."""
    try:
        import ray
        if ray.is_initialized():
            environ['ray_node_id'] = ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return environ
