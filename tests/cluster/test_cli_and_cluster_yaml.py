"""The sio-ray command and cluster.yaml."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from sio_ray import tags

ROOT = Path(__file__).resolve().parents[2]
SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))


def env() -> dict:
    """The environment for sio-ray, taken when it starts: the session's
    (temporary directories set after this module was imported), token auth
    off (tests only)."""
    return {**os.environ, 'RAY_AUTH_MODE': 'disabled'}


def test_submit_round_trip_and_exit_status(tmp_path):
    jobs = tmp_path / 'jobs.jsonl'
    jobs.write_text('\n'.join(json.dumps(j) for j in [
        {'job_type': 'ping', 'ping': 1}, {'job_type': 'test-raise'}, {'job_type': 'ping', 'ping': 3}]))
    done = subprocess.run([SIO_RAY, 'submit', str(jobs), '--out', str(tmp_path / 'out.jsonl')],
                          env=env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr  # one job failed
    results = [json.loads(line) for line in (tmp_path / 'out.jsonl').read_text().splitlines()]
    assert [r.get('pong') for r in results] == [1, None, 3]
    assert results[1]['result'] == 'FAILURE'
    assert '3/3 done, 1 failed' in done.stderr


def test_a_job_printing_on_stdout_leaves_submits_results_alone(tmp_path):
    # The job prints from Python and from a child process, in a Ray worker; the
    # results go to standard output too, one JSON line per job and nothing else.
    jobs = tmp_path / 'jobs.jsonl'
    jobs.write_text('\n'.join(json.dumps({'job_type': 'test-echo', 'echo': i, 'print': 'NOISE-5678'})
                              for i in range(2)))
    done = subprocess.run([SIO_RAY, 'submit', str(jobs)], env=env(), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r['result'], r['echoed'], r['print']) for r in results] == [
        ('SUCCESS', 0, 'NOISE-5678'), ('SUCCESS', 1, 'NOISE-5678')]
    assert done.stdout.count('NOISE-5678') == 2  # the environs' own keys


def test_submit_rejects_bad_input_before_running_anything(tmp_path):
    jobs = tmp_path / 'jobs.jsonl'
    jobs.write_text('{"job_type": "ping", "ping": 1}\n{"job_type": \n')
    done = subprocess.run([SIO_RAY, 'submit', str(jobs)], env=env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and 'line 2: environ: invalid JSON' in done.stderr


def test_cluster_files_pass_rays_own_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config
    autoscaling = yaml.safe_load((ROOT / 'cluster.yaml').read_text())
    onprem = yaml.safe_load((ROOT / 'cluster-onprem.yaml').read_text())
    for config in (autoscaling, onprem):
        validate_config(prepare_config(config))
        starts = ' '.join(config['worker_start_ray_commands'])
        assert 'RAY_AUTH_MODE=token' in starts and '$(~/sio-ray/.venv/bin/sio-ray node-args)' in starts
    # The autoscaling judges: a node type with tags, bounds and an idle timeout.
    judge = autoscaling['available_node_types']['judge']
    assert judge['labels'][tags.SANDBOX] == 'true' and judge['resources']['CPU'] > 0
    assert judge['min_workers'] == 0 < judge['max_workers']
    assert autoscaling['idle_timeout_minutes'] > 0
    head = autoscaling['available_node_types'][autoscaling['head_node_type']]
    assert head['resources'] == {'CPU': 0}  # the head runs no jobs
    # The fixed layout runs the very same commands.
    for key in ('setup_commands', 'head_start_ray_commands', 'worker_start_ray_commands',
                'file_mounts'):
        assert onprem[key] == autoscaling[key], key


def test_node_tags_for_ray_start_come_from_a_real_probe_and_survive_the_shell():
    done = subprocess.run([SIO_RAY, 'node-args'], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert '--labels=sio-sandbox=true,sio-instructions=' in done.stdout
    # As cluster.yaml uses them: `ray start ... $(sio-ray node-args)`.  The
    # shell splits a command substitution into words and removes no quotes.
    words = subprocess.run(['bash', '-c', f'printf "%s\\n" $({SIO_RAY} node-args)'],
                           capture_output=True, text=True, timeout=60).stdout.splitlines()
    expected = ','.join(f'{k}={v}' for k, v in tags.node_labels().items())
    [labels] = [w for w in words if w.startswith('--labels=')]  # one word, nothing quoted
    # ... the probed tags, then the node's calibration (measured again each time).
    assert labels.startswith(f'--labels={expected},sio-speed='), words
    speed, noise = (float(part.split('=')[1]) for part in labels.split(',')[-2:])
    assert labels.split(',')[-1].startswith('sio-noise=') and speed > 0 and noise >= 0
    assert all("'" not in w and '"' not in w for w in words), words
    assert not [w for w in words if w.startswith('--resources=')]  # jobs ask for none


def test_status_without_a_cluster_says_so_instead_of_starting_one():
    status = subprocess.Popen([SIO_RAY, 'status'], env={**env(), 'RAY_ADDRESS': ''},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = status.communicate(timeout=180)
    assert status.returncode == 2, stdout + stderr
    assert 'no Ray cluster named: give --address' in stderr
    assert not glob.glob(f"{os.environ['RAY_TMPDIR']}/ray/session_*_{status.pid}")  # no Ray


def test_status_lists_tagged_nodes_and_the_dashboard(local_ray):
    import ray
    done = subprocess.run([SIO_RAY, 'status', '--address',  # after the subcommand
                           ray.get_runtime_context().gcs_address],
                          env=env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert 'sandbox' in done.stdout and 'dashboard: http://127.0.0.1:' in done.stdout
    node_line = done.stdout.splitlines()[1]
    assert ' True ' in node_line and ' true ' in node_line


def test_submit_names_bad_values_by_their_line(tmp_path):
    jobs = tmp_path / 'jobs.jsonl'
    jobs.write_text('{"job_type": "ping", "ping": 1}\n\n'
                    '{"job_type": "exec", "exec_mem_limit": "64M"}\n')
    done = subprocess.run([SIO_RAY, 'submit', str(jobs)], env=env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "sio-ray submit: line 3: environ['exec_mem_limit']: '64M'" in done.stderr, done.stderr
    jobs.write_text('{"job_type": "ping"}\n{"job_type": "no-such-job"}\n')
    done = subprocess.run([SIO_RAY, 'submit', str(jobs)], env=env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "line 2: environ['job_type']: unknown job type 'no-such-job'" in done.stderr


def test_ray_demo_judges_the_samples():
    done = subprocess.run([SIO_RAY, 'demo'], env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'too slow     OK       TLE' in done.stdout
    assert 'Ray dashboard: http://127.0.0.1:' in done.stdout
    assert done.stdout.rstrip().endswith('Demo succeeded.')


def test_submit_with_a_batch_id_does_not_rerun_finished_jobs(tmp_path):
    jobs = tmp_path / 'jobs.jsonl'
    jobs.write_text('\n'.join(json.dumps({'job_type': 'test-sleep', 'sleep': 0, 'n': i})
                              for i in range(3)))
    outputs = []
    for attempt in range(2):
        out = tmp_path / f'out{attempt}.jsonl'
        done = subprocess.run([SIO_RAY, 'submit', str(jobs), '--batch', 'b1', '--journal-dir',
                               str(tmp_path / 'journals'), '--out', str(out)],
                              env=env(), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]  # the same 'started' stamps: nothing ran twice
    assert (tmp_path / 'journals' / 'b1.journal').exists()
