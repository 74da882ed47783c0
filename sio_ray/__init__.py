"""sio-ray's Ray back-end: every ``run(environ)`` becomes a Ray task placed on a
node that can serve it.

.. code-block:: python

    import sio_ray
    result = sio_ray.run({'job_type': 'ping', 'ping': 1})
    results = sio_ray.run_many(environs)             # in input order
    for result in sio_ray.as_completed(environs):    # as they finish
        ...
    group = sio_ray.run_group(oioioi_group)           # sioworkersd's groups
"""

from sio_ray.driver import as_completed, cancel, run, run_many, submit, submit_many
from sio_ray.group import run_group
from sio_ray.connection import connect, shutdown
from sio_ray.journal import Journal

__all__ = ['Journal', 'as_completed', 'cancel', 'connect', 'run', 'run_group', 'run_many', 'shutdown', 'submit', 'submit_many']
