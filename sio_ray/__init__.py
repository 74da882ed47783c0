"""sio-ray's Ray back-end: every ``run(environ)`` becomes a Ray task placed on a
node that can serve it.

.. code-block:: python

    import sio_ray
    result = sio_ray.run({'job_type': 'ping', 'ping': 1})
    results = sio_ray.run_many(environs)             # in input order
    for result in sio_ray.as_completed(environs):    # as they finish
        ...
    group = sio_ray.run_group(oioioi_group)           # sioworkersd's groups

The names above are imported on first use, so that modules without Ray
(:mod:`sio_ray.queue`, :mod:`sio_ray.scheduling` and the modules it uses:
:mod:`sio_ray.nodes`, :mod:`sio_ray.locality`, :mod:`sio_ray.steadiness`) can be
imported where Ray is not installed.
"""

from __future__ import annotations

import importlib

_API = {
    'as_completed': 'sio_ray.driver', 'cancel': 'sio_ray.driver', 'run': 'sio_ray.driver',
    'run_many': 'sio_ray.driver', 'submit': 'sio_ray.driver', 'submit_many': 'sio_ray.driver',
    'run_group': 'sio_ray.group', 'connect': 'sio_ray.connection',
    'shutdown': 'sio_ray.connection', 'Journal': 'sio_ray.journal', 'Session': 'sio_ray.session',
}

__all__ = sorted(_API)


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
