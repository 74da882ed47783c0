"""Filetracker for the jobs of a node: one package, one module per role.

How a file travels.  OIOIOI keeps the files of a contest on a central
filetracker server; an environ names them (``/tests/1.in@1494964934``).  A
job asks for one through :mod:`sio.workers.ft` (the upstream-compatible
face of :mod:`~sio.workers.filetracker.api`).  Its
:class:`~sio.workers.filetracker.client.FiletrackerClient` looks in the
node's store first (:mod:`~sio.workers.filetracker.store`: a directory shared
by every job of the node, one per central server); a stored versioned file
is copied out with no request at all.  A miss goes to the node cache server
registered for that store (:mod:`~sio.workers.filetracker.registry`), which
fetches the file from the central server once, however many jobs want it,
stores it and serves it (:mod:`~sio.workers.filetracker.server`); with no
such server alive, the job fetches into the store itself.  Both sides speak
filetracker's HTTP protocol (:mod:`~sio.workers.filetracker.protocol`), so a
stock client works against the node cache server too.  Uploads go to the
central server and stay in the store.

=============================================  =============================================
module                                         role
=============================================  =============================================
:mod:`~sio.workers.filetracker.api`            the jobs' API: download, upload, the clients
:mod:`~sio.workers.filetracker.protocol`       HTTP: URLs, dates, sizes, errors by status
:mod:`~sio.workers.filetracker.store`          the node's store on disk; the file lock
:mod:`~sio.workers.filetracker.client`         the client (timeouts, checks, one fill per file)
:mod:`~sio.workers.filetracker.registry`       which node cache server fills a store
:mod:`~sio.workers.filetracker.server`         the node cache server
:mod:`~sio.workers.filetracker.holdings`       what a store holds, summarized for placement
:mod:`~sio.workers.filetracker.cli`            ``sio-run-filetracker``; starting the server
=============================================  =============================================

A central server for demos and tests is no part of this: see :mod:`sio.demo`.
"""
