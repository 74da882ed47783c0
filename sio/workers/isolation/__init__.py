"""Process isolation for untrusted programs: bubblewrap namespaces, a seccomp
filter, rlimits and cgroups, supervised by a small launcher that runs as PID 1
inside each box.  :mod:`sio.workers.executors` builds on it."""
