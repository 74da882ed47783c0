"""Every environment variable the project reads, in one place.

Each :class:`Setting` names a variable, its default and what it means; its
:meth:`~Setting.get` reads the environment **when called** (never when a
module is imported), so a test or a service can change a variable and the
next job sees it.  An empty variable counts as unset.  A value that cannot be
read raises :class:`ValueError` naming the variable.

Node settings (read by the worker, on the node that runs the job):

``SIO_BOX_UID``, ``SIO_BOX_GID``
  the user and group a box runs as when the worker is root (default 65534,
  ``nobody``; the group defaults to the uid).
``SIO_BOX_TMPFS``
  ``0``: boxes whose files are read back (compilers, generators) get no tmpfs
  of their own on the host; their directory is bound as it is (default on).
``SIO_BOX_INODES``
  inodes such a tmpfs offers beyond the files copied in (default 4096).
``SIO_NO_CGROUPS``
  any value: never use cgroups, even where they work (rlimits only; the CI
  runs the box tests this way too).
``SIO_CGROUP_ROOT``
  where the cgroup hierarchy is mounted (default ``/sys/fs/cgroup``).
``SIO_CGROUP_FAVORDYNMODS``
  ``0``: do not remount cgroup v2 with ``favordynmods`` (default: remount
  when root, which makes creating a run's cgroup cheaper).
``SIO_CACHE_DIR``
  where the compiled box launcher is kept (default ``/var/cache/sio-ray`` for
  root, else ``~/.cache/sio-ray``).
``CC``
  the C compiler that builds the launcher (default ``gcc``).
``SIO_SANDBOXES_BASEDIR``
  where software sandboxes are installed (default
  ``/var/cache/sio-ray/sandboxes`` for root, else ``~/.sio-sandboxes``).
``SIO_SANDBOXES_CHECK_INTERVAL``
  seconds between checks for a newer version of an installed sandbox
  (default 3600).
``SIO_SANDBOXES_URL``
  an HTTP directory to fetch ``<name>.tar.gz`` sandboxes from when
  filetracker does not have them (default none).
``SIO_COMPILER_HOST_FALLBACK``
  ``allow`` (default) or ``deny``: whether a versioned compiler whose
  toolchain sandbox is missing may compile with the host's toolchain.
``SIO_REMEASURE_RUNS``
  how many more times a borderline run of an exec job is measured, at most
  (default 2; 0 turns it off; :mod:`sio.executors.remeasure`).
``SIO_CALIBRATION_RUNS``
  runs of the reference workload that calibrate a node's speed and noise
  (default 7, plus one warm-up run; 0: ``sio-ray node-args`` calibrates
  nothing; :mod:`sio.workers.calibration`).
``FILETRACKER_URL``
  the filetracker server of jobs that name none (``filetracker_url``), of
  ``sio-compile`` and of ``sio-run-filetracker``.
``FILETRACKER_DIR``
  the local store of jobs run without a filetracker server (default
  ``~/.filetracker-store``).
``SIO_FT_CACHE_DIR``
  the node's filetracker cache (default ``~/.filetracker_cache``).
``SIO_FT_CACHE_SIZE``
  the node cache's size, e.g. ``20G`` (default 10 GiB).
``SIO_FT_TIMEOUT``
  seconds a filetracker request may wait for data (default 30).

(The filetracker variables are read by :mod:`sio.workers.ft` and its
companions; they are listed here so that one page names them all.)

Driver settings (read by ``sio_ray`` in the process that submits jobs):

``RAY_ADDRESS``
  the Ray cluster to join (Ray's own variable; default: start a local Ray).
``SIO_RAY_WINDOW``
  how many jobs the driver keeps in Ray at once (default twice the
  cluster's CPUs, at least 8).
``SIO_RAY_JOB_WALL_MARGIN``
  seconds added to what a job's runs may take, for its wall-clock bound
  (default 300; :mod:`sio_ray.bounds`).
``SIO_RAY_JOB_WALL_LIMIT``
  the wall-clock bound in seconds of a job whose limits give none (default
  3600).
``SIO_RAY_STALL_TIMEOUT``
  seconds a queued job that no alive node can run (its capable nodes gone)
  waits, warned about every few seconds, before it comes back as FAILURE
  naming what is missing (default 300); not while the autoscaler can still
  bring a node for it.
``SIO_RAY_LOCALITY``
  ``0``: place jobs without regard to which nodes' caches hold their inputs
  (default on: a job prefers, softly, a node whose cache holds its inputs
  and that has room; :func:`sio_ray.locality.preferred_node`).
``SIO_RAY_SLOW_NODE_RATIO``
  a timed job (``cpu-exec``; ``sio2jail-exec`` without instruction counters)
  avoids nodes whose calibrated speed is below this fraction of the
  cluster's median speed, unless only such nodes can run it (default 0.8;
  :mod:`sio_ray.calibration`).
``SIO_RAY_NOISY_NODE_MARGIN``
  a timed job also avoids nodes whose calibrated noise (coefficient of
  variation) exceeds the cluster's median noise by more than this (default
  0.1), unless only such nodes can run it.
``XDG_STATE_HOME``
  where ``sio-ray gateway`` keeps its state, under ``sio-ray/gateway``
  (default ``~/.local/state``; ``--state-dir`` overrides it).

Inputs rather than settings: ``sio-batch`` reads the job from ``environ``
and appends ``prefilters`` and ``postfilters`` (space-separated names) to the
environ's lists; ``scripts/*.sh`` use ``SIO_VENV`` (the virtualenv, default
``.venv``); Ray's own ``RAY_AUTH_MODE`` is passed through, and with
``RAY_AUTH_MODE=token`` a driver's token comes from ``RAY_AUTH_TOKEN`` or the
file named by ``RAY_AUTH_TOKEN_PATH`` (else ``~/.ray/auth_token``), as Ray
reads it.  ``sio_ray`` sets Ray's ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` to
``0`` for the local Ray it starts, which binds that Ray to 127.0.0.1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ['Setting', 'SETTINGS', 'get']


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default and how to read it."""

    name: str
    #: The value when the variable is unset or empty (None: no value).
    default: Any
    #: What it means, in one line.
    meaning: str
    #: Turns the text into the value; raises :class:`ValueError` with the reason.
    parse: Callable[[str], Any] = str

    def text(self) -> str | None:
        """The variable as it is now (None when unset or empty)."""
        return os.environ.get(self.name) or None

    def get(self) -> Any:
        """The value now: parsed, or the default when unset."""
        text = self.text()
        if text is None:
            return self.default
        try:
            return self.parse(text)
        except ValueError as exc:
            raise ValueError(f'${self.name}: {text!r} {exc}') from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError('is not a whole number') from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise ValueError('is not a positive whole number')
    return value


def _float(text: str) -> float:
    """``text`` as a number; NaN (which every check below refuses) when it is none."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _positive_seconds(text: str) -> float:
    value = _float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError('is not a positive number of seconds')
    return value


def _seconds(text: str) -> float:
    value = _float(text)
    if math.isnan(value) or value < 0:
        raise ValueError('is not a number of seconds')
    return value


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0 < value <= 1:
        raise ValueError('is not a number above 0 and at most 1')
    return value


def _non_negative(text: str) -> float:
    value = _float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError('is not a non-negative number')
    return value


def _runs(text: str) -> int:
    value = _int(text)
    if value < 0 or value == 1:
        raise ValueError('is not 0 or a whole number of at least 2')
    return value


def _not_zero(text: str) -> bool:
    return text != '0'


def _any_value(text: str) -> bool:
    return True


def _allow_or_deny(text: str) -> str:
    value = text.strip().lower() or 'allow'
    if value not in ('allow', 'deny'):
        raise ValueError('is neither allow nor deny')
    return value


BOX_UID = Setting('SIO_BOX_UID', 65534, 'the uid boxes run as under a root worker', _int)
BOX_GID = Setting('SIO_BOX_GID', None, 'the gid boxes run as (default: the uid)', _int)
BOX_TMPFS = Setting('SIO_BOX_TMPFS', True, '0: no host tmpfs for boxes whose files are read back',
                    _not_zero)
BOX_INODES = Setting('SIO_BOX_INODES', 4096, "inodes a box's host tmpfs offers", _int)
NO_CGROUPS = Setting('SIO_NO_CGROUPS', False, 'any value: never use cgroups', _any_value)
CGROUP_ROOT = Setting('SIO_CGROUP_ROOT', Path('/sys/fs/cgroup'),
                      'where the cgroup hierarchy is mounted', Path)
CGROUP_FAVORDYNMODS = Setting('SIO_CGROUP_FAVORDYNMODS', True,
                              '0: leave the cgroup v2 mount options alone', _not_zero)
CACHE_DIR = Setting('SIO_CACHE_DIR', None, 'where the compiled box launcher is kept', Path)
CC = Setting('CC', 'gcc', 'the C compiler that builds the box launcher')
SANDBOXES_BASEDIR = Setting('SIO_SANDBOXES_BASEDIR', None,
                            'where software sandboxes are installed', Path)
SANDBOXES_CHECK_INTERVAL = Setting('SIO_SANDBOXES_CHECK_INTERVAL', 3600.0,
                                   'seconds between checks for newer sandboxes', _seconds)
SANDBOXES_URL = Setting('SIO_SANDBOXES_URL', None,
                        'an HTTP directory of sandboxes, when filetracker has none')
COMPILER_HOST_FALLBACK = Setting('SIO_COMPILER_HOST_FALLBACK', 'allow',
                                 "allow or deny: host toolchains for missing compiler sandboxes",
                                 _allow_or_deny)
FILETRACKER_URL = Setting('FILETRACKER_URL', None, 'the default filetracker server')
FILETRACKER_DIR = Setting('FILETRACKER_DIR', None, 'the local store of jobs without a server',
                          Path)
FT_CACHE_DIR = Setting('SIO_FT_CACHE_DIR', None, "the node's filetracker cache", Path)
FT_CACHE_SIZE = Setting('SIO_FT_CACHE_SIZE', None, "the node cache's size (e.g. 20G)")
FT_TIMEOUT = Setting('SIO_FT_TIMEOUT', 30.0, 'seconds a filetracker request may wait', _seconds)
RAY_ADDRESS = Setting('RAY_ADDRESS', None, 'the Ray cluster a driver joins')
RAY_WINDOW = Setting('SIO_RAY_WINDOW', None, 'jobs a driver keeps in Ray at once',
                     _positive_int)
RAY_JOB_WALL_MARGIN = Setting('SIO_RAY_JOB_WALL_MARGIN', 300.0,
                              "seconds added to a job's runs for its wall-clock bound",
                              _positive_seconds)
RAY_JOB_WALL_LIMIT = Setting('SIO_RAY_JOB_WALL_LIMIT', 3600.0,
                             'the wall-clock bound of a job whose limits give none',
                             _positive_seconds)
RAY_STALL_TIMEOUT = Setting('SIO_RAY_STALL_TIMEOUT', 300.0,
                            'seconds a job no alive node can run waits before it fails',
                            _positive_seconds)
RAY_LOCALITY = Setting('SIO_RAY_LOCALITY', True,
                       "0: place jobs without regard to where their inputs are cached", _not_zero)
STATE_HOME = Setting('XDG_STATE_HOME', None, "the base of the gateway's state directory", Path)
CALIBRATION_RUNS = Setting('SIO_CALIBRATION_RUNS', 7,
                            'runs of the reference workload that calibrate a node', _runs)
RAY_SLOW_NODE_RATIO = Setting('SIO_RAY_SLOW_NODE_RATIO', 0.8,
                              "timed jobs avoid nodes slower than this × the median's speed",
                              _fraction)
RAY_NOISY_NODE_MARGIN = Setting('SIO_RAY_NOISY_NODE_MARGIN', 0.1,
                                "timed jobs avoid nodes noisier than the median's noise + this",
                                _non_negative)
REMEASURE_RUNS = Setting('SIO_REMEASURE_RUNS', None,
                         'more runs of a borderline exec run, at most (default 2)', _int)

#: Every setting, by variable name.
SETTINGS: dict[str, Setting] = {s.name: s for s in (
    BOX_UID, BOX_GID, BOX_TMPFS, BOX_INODES, NO_CGROUPS, CGROUP_ROOT, CGROUP_FAVORDYNMODS,
    CACHE_DIR, CC, SANDBOXES_BASEDIR, SANDBOXES_CHECK_INTERVAL, SANDBOXES_URL,
    COMPILER_HOST_FALLBACK, REMEASURE_RUNS, FILETRACKER_URL, FILETRACKER_DIR, FT_CACHE_DIR, FT_CACHE_SIZE,
    FT_TIMEOUT, RAY_ADDRESS, RAY_WINDOW, RAY_JOB_WALL_MARGIN, RAY_JOB_WALL_LIMIT,
    RAY_STALL_TIMEOUT, RAY_LOCALITY, STATE_HOME, CALIBRATION_RUNS, RAY_SLOW_NODE_RATIO,
    RAY_NOISY_NODE_MARGIN)}
#: Variables read as inputs (``sio-batch``), by the scripts or by Ray itself:
#: documented above, not settings of the project.
INPUTS = frozenset({'environ', 'prefilters', 'postfilters', 'SIO_VENV', 'RAY_AUTH_MODE',
                    'RAY_AUTH_TOKEN', 'RAY_AUTH_TOKEN_PATH',
                    'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'})


def get(name: str) -> Any:
    """The value of the setting named ``name`` (the variable's name), now."""
    return SETTINGS[name].get()
