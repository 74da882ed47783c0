"""The OIOIOI gateway: sioworkersd's XML-RPC surface, served from Ray.

OIOIOI talks to its judging back-end only through sioworkersd's XML-RPC
methods and an HTTP callback.  ``sio-ray gateway`` serves both, so pointing
OIOIOI's ``SIOWORKERSD_URL`` at it is the whole migration:

``sync_run_group(env)``
    runs the group (:func:`sio_ray.group.prepare` / :func:`~sio_ray.group.finish`:
    the very semantics of :func:`sio_ray.run_group`) and returns it finished
    as an XML-RPC struct; a job that raised makes it a Fault 8002, a job
    needing more than ``--max-task-ram`` MiB returns the group with
    ``error`` and no results.
``run_group(env)``
    stores the group, returns its ``group_id`` and later POSTs the finished
    group to ``env['return_url']`` (:mod:`sio_ray.gateway.delivery`).
``get_workers()``, ``forget_worker(name)``
    the Ray nodes as sioworkersd's workers (:mod:`sio_ray.gateway.workers`).
``get_queue()``
    what waits, JSON-serialisable.

Every parameter is one JSON string, as OIOIOI sends it.  Bad input — not
JSON, no ``workers_jobs``, a job that is not a dict or is refused by the
driver, no http(s) ``return_url`` for ``run_group`` — is a Fault 8003 naming
the key, and nothing is queued.

How it holds together (theory of operation):

* The gateway is the one Ray driver of all its clients, so one queue orders
  everything: contest priority strictly, contests of one priority by weight,
  then task priority, then first come first served
  (:mod:`sio_ray.gateway.scheduler` with :class:`sio_ray.queue.PriorityQueue`).
* Accepted groups live in SQLite in ``--state-dir``
  (:mod:`sio_ray.gateway.store`), committed before ``run_group`` answers.
  Memory holds an index of the queued jobs (a few hundred bytes each) and
  the jobs in Ray (a bounded window).
* Results are recorded as they come; a group whose last job is recorded
  becomes, in the same transaction, a delivery.  Deliveries are retried with
  back-off until the receiver answers 200 or ``--give-up`` passes.
* Killed (even with SIGKILL) and started again on the same state directory,
  the gateway runs the jobs of unfinished ``run_group`` groups that have no
  recorded result (a job may so run twice, as under sioworkersd) and sends
  every undelivered result (a receiver may so get one twice; OIOIOI drops the
  second).  ``sync_run_group`` groups are not kept: their callers' connections
  ended with the old gateway.
"""

__all__ = ['Gateway']


def __getattr__(name: str):
    # Lazily: ``sio-ray --help`` should not import Ray.
    if name == 'Gateway':
        from sio_ray.gateway.service import Gateway
        return Gateway
    raise AttributeError(name)
