"""``output-only``: nothing to compile; the submitted file is the output."""

from sio.workers.results import OK


def run(environ: dict) -> dict:
    """Accept the source as the contestant's output."""
    environ['result_code'] = OK
    environ['compiler_output'] = 'Compilation omitted (output provided).'
    environ['exec_info'] = {'mode': 'output-only'}
    environ['out_file'] = environ['source_file']
    return environ
