"""Ray task options from requirements, and feasibility against node descriptions
(the dicts ray.nodes() returns; plain data, no Ray needed)."""

from sio_ray import nodes, placement, tags


def node(sandbox='true', cpus=2, memory=8 << 30, alive=True):
    return nodes.Node.from_ray({'NodeID': 'n', 'Alive': alive, 'Labels': {tags.SANDBOX: sandbox},
                                'Resources': {'CPU': cpus, 'memory': memory}})


def test_options_follow_requirements_and_ask_ray_only_for_what_it_counts():
    opts = placement.task_options({'job_type': 'cpu-exec', 'exec_mem_limit': 131072,
                                   'job_id': 'j1'})
    assert opts == {'name': 'sio:cpu-exec', 'num_cpus': 1.0, 'memory': 128 << 20,
                    'label_selector': {tags.SANDBOX: 'true'}}
    opts = placement.task_options({'job_type': 'ping', 'ping': 1})
    # No custom resource: any node with a CPU runs a job that needs nothing else.
    assert 'resources' not in opts and 'label_selector' not in opts
    assert opts['name'] == 'sio:ping'  # by job type: the dashboard counts jobs by type


def test_missing_capabilities_are_named_with_the_way_out():
    isolated = placement.task_options({'job_type': 'exec'})
    assert nodes.missing(isolated, [node()]) is None
    assert 'sio-sandbox=true' in nodes.missing(isolated, [node(sandbox='false')])
    assert nodes.missing(isolated, [node(alive=False)]).startswith('no alive Ray node')
    huge = placement.task_options({'job_type': 'exec', 'exec_mem_limit': 64 << 20})
    message = nodes.missing(huge, [node()])
    assert '65536 MiB of memory' in message and 'the most any node has: 2 CPUs, 8192 MiB of memory' \
        in message and 'e+' not in message and 'lower the job' in message
    interactive = placement.task_options({'job_type': 'interactive-exec', 'num_processes': 4})
    assert '5 CPUs' in nodes.missing(interactive, [node(cpus=2)])
    fitted = nodes.fitted(interactive, [node(cpus=2)])
    assert fitted['num_cpus'] == 2 and nodes.missing(fitted, [node(cpus=2)]) is None
