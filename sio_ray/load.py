"""What the cluster's nodes are doing, through Ray's public State API."""

from __future__ import annotations

import logging

import ray

logger = logging.getLogger(__name__)


def running_tasks(timeout: float = 10.0) -> list | None:
    """The tasks running in the cluster this process is connected to (None
    when the State API cannot be reached: a Ray without its dashboard)."""
    from ray.util.state import list_tasks
    try:
        return list_tasks(address=ray.get_runtime_context().gcs_address, detail=True,
                          filters=[('state', '=', 'RUNNING')], limit=10000, timeout=timeout,
                          raise_on_missing_output=False)
    except Exception as exc:
        logger.debug('the State API did not answer: %s', exc)
        return None


def busy_cpus(tasks: list | None = None) -> dict[str, float] | None:
    """CPUs held by running tasks, by node id (None when Ray cannot tell)."""
    tasks = running_tasks() if tasks is None else tasks
    if tasks is None:
        return None
    busy: dict[str, float] = {}
    for task in tasks:
        cpus = (getattr(task, 'required_resources', None) or {}).get('CPU', 0)
        if task.node_id and cpus:
            busy[task.node_id] = busy.get(task.node_id, 0) + cpus
    return busy
