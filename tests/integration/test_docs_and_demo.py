import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# No clocks of their own: the suite's per-test timeout (pytest-timeout, set in
# pyproject.toml) stops a hung build or demo, and the child process with it.


def test_docs_build_without_warnings(tmp_path):
    done = subprocess.run([BIN / 'sphinx-build', '-W', '--keep-going', '-q', '-b', 'html',
                           ROOT / 'docs', tmp_path / 'html'],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'sio.workers.runner.run' in (tmp_path / 'html' / 'api.html').read_text()


def test_the_demo_runs_end_to_end():
    done = subprocess.run([BIN / 'sio-demo'], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'ping                         SUCCESS' in done.stdout
    assert 'round trip intact: True' in done.stdout
    assert done.stdout.rstrip().endswith('Demo succeeded.')
