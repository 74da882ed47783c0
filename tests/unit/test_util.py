import doctest
import os
import threading

import pytest

from sio.workers import util
from sio.workers.util import TemporaryCwd, tempcwd


def test_doctests():
    assert doctest.testmod(util).failed == 0


def test_tempcwd_outside_a_job_raises():
    with pytest.raises(RuntimeError, match='outside of a job'):
        tempcwd()


def test_temporary_cwd_nests_and_cleans_up_read_only_trees():
    with TemporaryCwd() as outer:
        assert tempcwd() == outer
        assert tempcwd('a') == os.path.join(outer, 'a')
        assert tempcwd(tempcwd('a')) == tempcwd('a')
        with TemporaryCwd() as inner:
            assert tempcwd() == inner != outer
            os.makedirs(os.path.join(inner, 'ro/sub'))
            open(os.path.join(inner, 'ro/sub/f'), 'w').close()
            os.chmod(os.path.join(inner, 'ro/sub'), 0o500)
            os.chmod(os.path.join(inner, 'ro'), 0o000)
        assert not os.path.exists(inner)
        assert tempcwd() == outer
    assert not os.path.exists(outer)


def test_tempcwd_is_per_thread():
    seen = {}

    def worker(name):
        with TemporaryCwd() as d:
            barrier.wait()
            seen[name] = (d, tempcwd())

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=worker, args=(n,)) for n in 'ab']
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen['a'][0] == seen['a'][1] and seen['b'][0] == seen['b'][1]
    assert seen['a'][0] != seen['b'][0]
