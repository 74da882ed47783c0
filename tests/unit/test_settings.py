"""Environment variables: every one the project reads is documented in
sio.workers.settings, and read when used, never when a module is imported."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sio.workers import settings

REPO = Path(__file__).resolve().parents[2]
#: A read of a variable: os.environ.get('X'...), os.environ['X'], os.getenv('X'),
#: os.environ.setdefault('X'...), and the name of any SIO_* variable.
_READS = re.compile(r"""os\.(?:environ(?:\.get|\.setdefault)?|getenv)\s*[(\[]\s*['"]([A-Za-z_]+)['"]"""
                    r"""|['"](SIO_[A-Z0-9_]+)['"]""")


def _variables_in_the_code() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for root in ('sio', 'sio_ray'):
        for path in sorted((REPO / root).rglob('*.py')):
            for match in _READS.finditer(path.read_text()):
                name = match.group(1) or match.group(2)
                found.setdefault(name, []).append(str(path.relative_to(REPO)))
    return found


def test_every_variable_the_code_reads_is_a_documented_setting():
    known = set(settings.SETTINGS) | settings.INPUTS
    undocumented = {name: where for name, where in _variables_in_the_code().items()
                    if name not in known}
    assert not undocumented, f'add these to sio.workers.settings: {undocumented}'


def test_every_setting_is_described_in_the_module_docs():
    for name in [*settings.SETTINGS, *settings.INPUTS]:
        assert f'``{name}``' in settings.__doc__, name


def test_settings_are_read_when_used(monkeypatch):
    monkeypatch.delenv('SIO_BOX_INODES', raising=False)
    assert settings.BOX_INODES.get() == 4096
    monkeypatch.setenv('SIO_BOX_INODES', '100')
    assert settings.BOX_INODES.get() == 100
    monkeypatch.setenv('SIO_BOX_INODES', '')  # empty is unset
    assert settings.BOX_INODES.get() == 4096
    monkeypatch.setenv('SIO_RAY_JOB_WALL_MARGIN', '2.5')
    assert settings.get('SIO_RAY_JOB_WALL_MARGIN') == 2.5


@pytest.mark.parametrize('name, text, expected', [
    ('SIO_NO_CGROUPS', '1', True), ('SIO_NO_CGROUPS', '0', True),  # any value, as ever
    ('SIO_BOX_TMPFS', '0', False), ('SIO_BOX_TMPFS', '1', True),
    ('SIO_CGROUP_FAVORDYNMODS', '0', False), ('SIO_CGROUP_ROOT', '/x', Path('/x')),
    ('SIO_COMPILER_HOST_FALLBACK', ' DENY ', 'deny'), ('SIO_BOX_GID', '7', 7),
])
def test_values(monkeypatch, name, text, expected):
    monkeypatch.setenv(name, text)
    assert settings.get(name) == expected


@pytest.mark.parametrize('name, text, problem', [
    ('SIO_BOX_UID', 'nobody', 'is not a whole number'),
    ('SIO_RAY_WINDOW', '0', 'is not a positive whole number'),
    ('SIO_RAY_JOB_WALL_LIMIT', 'soon', 'is not a positive number of seconds'),
    ('SIO_COMPILER_HOST_FALLBACK', 'maybe', 'is neither allow nor deny'),
    ('SIO_SANDBOXES_CHECK_INTERVAL', '-1', 'is not a number of seconds'),
])
def test_a_bad_value_is_named_with_its_variable(monkeypatch, name, text, problem):
    monkeypatch.setenv(name, text)
    with pytest.raises(ValueError, match=re.escape(f'${name}: {text!r} {problem}')):
        settings.get(name)


def test_no_module_reads_a_setting_when_imported():
    """Every setting set to nonsense: importing every module still works (it
    failed for SIO_BOX_INODES, read by sio.workers.isolation.disk at import)."""
    env = {name: 'not a value' for name in settings.SETTINGS if name != 'RAY_ADDRESS'}
    modules = sorted({'.'.join(p.relative_to(REPO).with_suffix('').parts)
                      for root in ('sio/workers', 'sio/executors', 'sio/compilers')
                      for p in (REPO / root).rglob('*.py') if p.name != '__init__.py'})
    code = 'import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n'
    done = subprocess.run([sys.executable, '-c', code, *modules], cwd=REPO, capture_output=True,
                          text=True, env={'PATH': '/usr/bin:/bin', 'HOME': str(REPO), **env},
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
