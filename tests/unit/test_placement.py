"""Ray task options from requirements, and feasibility against node descriptions
(the dicts ray.nodes() returns; plain data, no Ray needed)."""

from sio_ray import placement, scheduling, tags


def node(sandbox='true', cpus=2, memory=8 << 30, alive=True):
    return scheduling.Node.from_ray({'NodeID': 'n', 'Alive': alive, 'Labels': {tags.SANDBOX: sandbox},
                                     'Resources': {'CPU': cpus, 'memory': memory, tags.NODE_SLOT: 1}})


def test_options_follow_requirements():
    opts = placement.task_options({'job_type': 'cpu-exec', 'exec_mem_limit': 131072,
                                   'job_id': 'j1'})
    assert opts == {'name': 'sio:cpu-exec:j1', 'num_cpus': 1.0, 'memory': 128 << 20,
                    'resources': {tags.NODE_SLOT: 1.0},
                    'label_selector': {tags.SANDBOX: 'true'}}
    opts = placement.task_options({'job_type': 'ping', 'ping': 1})
    assert opts['resources'] == {tags.NODE_SLOT: tags.ORDINARY_SLOT}
    assert 'label_selector' not in opts and opts['name'].startswith('sio:ping:')


def test_missing_capabilities_are_named():
    isolated = placement.task_options({'job_type': 'exec'})
    assert scheduling.missing(isolated, [node()]) is None
    assert 'sio-sandbox=true' in scheduling.missing(isolated, [node(sandbox='false')])
    assert scheduling.missing(isolated, [node(alive=False)]) == 'no alive Ray node'
    huge = placement.task_options({'job_type': 'exec', 'exec_mem_limit': 64 << 30})
    assert 'memory' in scheduling.missing(huge, [node()])
    interactive = placement.task_options({'job_type': 'interactive-exec', 'num_processes': 4})
    assert 'CPU 5' in scheduling.missing(interactive, [node(cpus=2)])
    fitted = scheduling.fitted(interactive, [node(cpus=2)])
    assert fitted['num_cpus'] == 2 and scheduling.missing(fitted, [node(cpus=2)]) is None
