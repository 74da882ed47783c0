"""The ``compile`` job and its compilers, registered through the
``sio.compilers`` entry points like any plugin."""
