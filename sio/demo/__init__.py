"""For demos, tests and benchmarks only — no part of judging.

* :mod:`sio.demo.central`: a central, stock ``filetracker-server`` on a free
  loopback port (in production OIOIOI runs the central server);
* :mod:`sio.demo.samples`: the sample problem (three submissions, two tests,
  the verdicts they must get);
* :mod:`sio.demo.cli`: ``sio-demo``, the README's main job through
  ``sio-batch`` (``sio-ray demo`` is the same on Ray).
"""
