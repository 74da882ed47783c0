import os
import tempfile
import threading
import time

import pytest

from sio.workers.runner import run


def test_ping_succeeds_and_records_the_worker():
    result = run({'job_type': 'ping', 'ping': 'e1'})
    assert result['pong'] == 'e1'
    assert result['result'] == 'SUCCESS'
    assert result['worker'] == os.uname().nodename
    assert 'exception' not in result and 'traceback' not in result


def test_stale_failure_keys_of_an_earlier_run_are_dropped():
    result = run({'job_type': 'ping', 'ping': 1, 'result': 'FAILURE', 'exception': 'old',
                  'traceback': 'old'})
    assert result['result'] == 'SUCCESS' and 'exception' not in result and 'traceback' not in result


@pytest.mark.parametrize('expected, message', [
    ('disk on fire', 'expected trouble: disk on fire'),   # sio.workers.Failure
    (None, 'unexpected trouble'),                         # any other exception
])
def test_a_raising_job_returns_failure_with_exception_and_traceback(expected, message):
    result = run({'job_type': 'test-raise', 'expected': expected, 'keep': [1]})
    assert result['result'] == 'FAILURE'
    assert result['exception'] == message
    assert 'Traceback (most recent call last)' in result['traceback']
    assert 'raising_job' in result['traceback']
    assert result['keep'] == [1]


def test_a_job_calling_sys_exit_fails_instead_of_ending_the_process():
    result = run({'job_type': 'test-exit'})
    assert result['result'] == 'FAILURE' and result['exception'] == '3'
    assert 'SystemExit' in result['traceback']


def test_unknown_job_type_names_it_and_lists_known_jobs():
    result = run({'job_type': 'no-such-job'})
    assert result['result'] == 'FAILURE'
    assert "'no-such-job'" in result['exception']
    assert 'ping' in result['exception'] and 'test-echo' in result['exception']


def test_missing_job_type_is_a_failure_listing_known_jobs():
    result = run({'ping': 1})
    assert result['result'] == 'FAILURE'
    assert "environ['job_type'] is missing" in result['exception']
    assert 'ping' in result['exception']


def test_invalid_environ_is_a_failure_naming_the_key():
    result = run({'job_type': 'ping', 'ping': 1, 'extra_files': {'a.h': b'x'}})
    assert result['result'] == 'FAILURE'
    assert "environ['extra_files']['a.h']: bytes is not JSON-compatible" in result['exception']
    assert 'pong' not in result


def test_non_dict_environ_raises():
    with pytest.raises(TypeError, match='environ must be a dict'):
        run(['ping'])


def test_prefilters_and_postfilters_from_entry_points():
    result = run({'job_type': 'test-echo', 'echo': 'x',
                  'prefilters': ['test-mark'], 'postfilters': ['test-mark']})
    assert result['result'] == 'SUCCESS'
    assert result['echoed'] == 'x'
    assert result['marks_seen_by_job'] == ['test-mark']
    assert result['marks'] == ['test-mark', 'test-mark']


def test_postfilters_still_run_after_a_failure():
    result = run({'job_type': 'test-raise', 'postfilters': ['test-mark']})
    assert result['result'] == 'FAILURE'
    assert result['marks'] == ['test-mark']


def test_a_failing_prefilter_fails_the_job_before_it_runs():
    result = run({'job_type': 'test-echo', 'echo': 1, 'prefilters': ['test-broken']})
    assert result['result'] == 'FAILURE'
    assert result['exception'] == 'broken filter'
    assert 'echoed' not in result


def test_unknown_filter_is_named():
    result = run({'job_type': 'ping', 'ping': 1, 'prefilters': ['nope']})
    assert result['result'] == 'FAILURE'
    assert "unknown filter 'nope'" in result['exception'] and 'test-mark' in result['exception']


def test_filters_must_be_a_list():
    result = run({'job_type': 'ping', 'ping': 1, 'postfilters': 'test-mark'})
    assert result['result'] == 'FAILURE'
    assert "environ['postfilters']" in result['exception']


def test_a_job_returning_only_results_is_merged_into_the_environ():
    result = run({'job_type': 'test-results-only', 'in_file': '/x'})
    assert result['result'] == 'SUCCESS'
    assert result['job_type'] == 'test-results-only' and result['in_file'] == '/x'
    assert result['return_code'] == 0 and result['collected'] == ['a', 'b']


def test_bytes_and_tuples_left_by_a_job_become_json_values():
    result = run({'job_type': 'test-bytes'})
    assert result['result'] == 'SUCCESS'
    assert result['stdout'] == ['line \ufffd', 'two']
    assert result['result_percentage'] == [1, 2]


def test_an_unserialisable_result_is_a_failure_that_keeps_the_environ():
    result = run({'job_type': 'test-bytes', 'unserialisable': True})
    assert result['result'] == 'FAILURE'
    assert "environ['bad']: set is not JSON-compatible" == result['exception']
    assert result['bad'] == '{1, 2}'
    assert result['stdout'] == ['line \ufffd', 'two']


def test_the_job_runs_in_a_fresh_directory_that_is_removed_and_cwd_restored():
    before = os.getcwd()
    result = run({'job_type': 'test-cwd', 'tag': 'a'})
    assert result['cwd'] == result['tempcwd'] != before
    assert os.path.basename(result['cwd']).startswith('sioworkers_')
    assert not os.path.exists(result['cwd'])
    assert os.getcwd() == before


def test_the_directory_is_removed_after_a_failure_too(monkeypatch):
    before = set(os.listdir(tempfile.gettempdir()))  # where this process's jobs go
    result = run({'job_type': 'test-raise'})
    assert result['result'] == 'FAILURE'
    after = set(os.listdir(tempfile.gettempdir()))
    assert not {d for d in after - before if d.startswith('sioworkers_')}


def test_runs_from_several_threads_take_turns_each_in_its_own_directory(tmp_path):
    results = {}

    def job(tag, **meet):
        results[tag] = run({'job_type': 'test-cwd', 'tag': tag, 'arrive': str(tmp_path / tag),
                            **meet})

    # The first run stays in (its file written) until released...
    first = threading.Thread(target=job, args=('one',),
                             kwargs={'wait_for': [str(tmp_path / 'release')]})
    first.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / 'one').exists():
        assert time.monotonic() < deadline and first.is_alive(), results
        time.sleep(0.01)
    # ...and the others wait their turn: the working directory is the process's.
    others = [threading.Thread(target=job, args=(t,)) for t in ('two', 'three')]
    for t in others:
        t.start()
    others[0].join(1)  # (one that did not wait would have arrived by now)
    assert not (tmp_path / 'two').exists() and not (tmp_path / 'three').exists()
    (tmp_path / 'release').touch()
    for t in [first, *others]:
        t.join()
    for tag, result in results.items():
        assert result['result'] == 'SUCCESS'
        assert result['marker_read_back'] == tag
        assert result['cwd'] == result['tempcwd']
    assert len({r['cwd'] for r in results.values()}) == 3
