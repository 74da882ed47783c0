import uuid

import pytest

from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.runner import run


def pytest_collection_modifyitems(items):
    for item in items:
        if '/integration/' in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def files(ft_server, programs, tmp_path):
    """Uploads programs and data under a fresh prefix; returns a put(name, data) function."""
    client = FiletrackerClient(ft_server.url, tmp_path / 'oioioi-cache')
    prefix = f'/t{uuid.uuid4().hex[:10]}'

    def put(name: str, data: bytes | str | None = None) -> str:
        src = tmp_path / 'upload'
        if data is None:
            src.write_bytes(programs[name].read_bytes())
        else:
            src.write_bytes(data.encode() if isinstance(data, str) else data)
        return client.put_file(f'{prefix}/{name}', src, to_local_store=False)

    put.client = client
    put.prefix = prefix
    return put


def job(ft_server, **environ) -> dict:
    result = run({'filetracker_url': ft_server.url, **environ})
    assert result['result'] == 'SUCCESS', result.get('traceback')
    return result
