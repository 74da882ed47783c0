import random
from collections import Counter

import pytest

from sio_ray.queue import PriorityQueue


def drain(queue):
    out = []
    while queue:
        out.append(queue.pop())
    return out


def test_contest_priority_is_strict_then_task_priority_then_fifo():
    q = PriorityQueue(random.Random(1))
    q.push({'contest_priority': 1, 'task_priority': 100, 'contest_uid': 'a'}, 'low-contest')
    q.push({'contest_priority': 5, 'task_priority': 100, 'contest_uid': 'b'}, 'b-100-first')
    q.push({'contest_priority': 5, 'task_priority': 300, 'contest_uid': 'b'}, 'b-300')
    q.push({'contest_priority': 5, 'task_priority': 100, 'contest_uid': 'b'}, 'b-100-second')
    q.push({'contest_priority': 10, 'contest_uid': 'c'}, 'top')
    assert drain(q) == ['top', 'b-300', 'b-100-first', 'b-100-second', 'low-contest']


def test_contests_of_equal_priority_share_by_weight():
    q = PriorityQueue(random.Random(7))
    for i in range(3000):
        q.push({'contest_uid': 'heavy', 'contest_weight': 3000}, 'heavy')
        q.push({'contest_uid': 'light', 'contest_weight': 1000}, 'light')
    first = Counter(q.pop() for _ in range(2000))
    assert 0.70 < first['heavy'] / 2000 < 0.80  # 3:1 by weight


def test_peek_then_pop_agree_and_a_new_higher_priority_job_overtakes():
    q = PriorityQueue(random.Random(3))
    q.push({'contest_uid': 'x'}, 'x1')
    q.push({'contest_uid': 'y'}, 'y1')
    assert q.peek() == q.pop()
    q.push({'contest_priority': 9}, 'urgent')
    assert q.peek() == 'urgent' and q.pop() == 'urgent'


@pytest.mark.parametrize('environ, key', [({'contest_priority': 'high'}, 'contest_priority'),
                                          ({'contest_weight': 0}, 'contest_weight'),
                                          ({'task_priority': [1]}, 'task_priority')])
def test_bad_priority_keys_are_named(environ, key):
    with pytest.raises(ValueError, match=rf"environ\['{key}'\]"):
        PriorityQueue.check(environ)
