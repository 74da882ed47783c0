"""The jobs that run programs: ``exec`` and its variants, interactive
execution, output checking, ``ingen`` and ``inwer``.  They are registered
through the ``sio.jobs`` entry points like any plugin."""
