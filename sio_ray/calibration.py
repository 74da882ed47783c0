"""Nodes calibrated and compared, on Ray (issue 11 §2).

A judging node is calibrated when its Ray starts: ``ray start ... $(sio-ray
node-args)`` runs the reference workload in a box
(:func:`sio.workers.calibration.measure`) and labels the node with its speed
and noise (``sio-speed``, ``sio-noise``: :mod:`sio_ray.tags`).  ``sio-ray
calibrate`` (:func:`calibrate`) measures every alive node again — a Ray task
pinned to each, taking one CPU there — and records the results in the
cluster's registry (:mod:`sio_ray.registry`); the drivers' dispatchers read
them there (every :data:`sio_ray.dispatcher.CALIBRATIONS_AGE` seconds) and
they override the labels.  ``sio-ray status`` shows each node's speed and
noise.

Timed jobs (``cpu-exec``; ``sio2jail-exec`` where no node able to run it
counts instructions) avoid nodes much slower or much noisier than the
cluster's median (:func:`sio_ray.steadiness.timed_nodes`): slower than
``$SIO_RAY_SLOW_NODE_RATIO`` (0.8) times the median speed, or noisier than
the median noise plus ``$SIO_RAY_NOISY_NODE_MARGIN`` (0.1) — unless only such
nodes can run them.  Every result names the node that ran it
(``ray_node_id``) and, where that node was calibrated, its speed
(``node_speed_factor``, :func:`node_speed`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from sio.workers import calibration as measuring
from sio_ray import registry, tags


def _remembered(node_id: str) -> Path:
    """Where a node keeps its latest calibration for its own jobs (:func:`node_speed`)."""
    from sio.workers.isolation.launcher import cache_dir
    return cache_dir() / 'calibrations' / f'{node_id}.json'


@ray.remote(num_cpus=1, max_retries=0)
def calibrate_here(runs: int | None = None) -> dict:
    """On the node it is pinned to: calibrate it (``runs`` runs, default
    ``$SIO_CALIBRATION_RUNS``); the calibration as a dict, with ``measured_at``."""
    found = {**measuring.measure(runs).to_dict(), 'measured_at': time.time()}
    path = _remembered(ray.get_runtime_context().get_node_id())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}')
    tmp.write_text(json.dumps(found))
    tmp.replace(path)
    return found


@dataclass(frozen=True)
class NodeCalibration:
    """What ``sio-ray calibrate`` found on one node: its calibration, or why none."""

    node_id: str
    calibration: measuring.Calibration | None = None
    error: str | None = None


def calibrate(runs: int | None = None, timeout: float = 600.0) -> list[NodeCalibration]:
    """Calibrate every alive node with CPUs, all at once (:func:`calibrate_here`
    pinned to each), and record each calibration in the cluster's registry,
    where it overrides the node's start-time labels.  A node where it fails
    (no working box, gone meanwhile) keeps what it had; the error says why."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 2):
        raise ValueError(f'runs: {runs!r} is not a whole number of at least 2')
    refs = {}
    for node in ray.nodes():
        if node.get('Alive') and (node.get('Resources') or {}).get('CPU', 0) > 0:
            node_id = node['NodeID']
            refs[node_id] = calibrate_here.options(
                name=f'sio-calibrate:{node_id[:12]}',
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(runs)
    deadline = time.monotonic() + timeout
    found = []
    for node_id, ref in refs.items():
        try:
            result = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:  # the node's answer: no calibration, and why
            ray.cancel(ref, force=True)
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            found.append(NodeCalibration(node_id, error=lines[-1]))
            continue
        registry.record_calibration(node_id, result)
        found.append(NodeCalibration(node_id, measuring.Calibration.from_dict(result)))
    return found


def as_labels(recorded: dict[str, dict]) -> dict[str, dict[str, str]]:
    """The registry's calibrations (:func:`sio_ray.registry.calibrations`) as
    the labels they override, by node id (bad entries left out)."""
    labels = {}
    for node_id, found in recorded.items():
        try:
            labels[node_id] = tags.calibration_labels(measuring.Calibration.from_dict(found))
        except (ValueError, TypeError, AttributeError):
            continue
    return labels


def node_speed() -> float | None:
    """In a Ray task: the speed of the node it runs on — its latest calibration
    by ``sio-ray calibrate``, else its ``sio-speed`` label; None where it was
    never calibrated."""
    context = ray.get_runtime_context()
    try:
        return float(json.loads(_remembered(context.get_node_id()).read_text())['speed'])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return float((context.get_node_labels() or {})[tags.SPEED])
    except (KeyError, ValueError, TypeError):
        return None
