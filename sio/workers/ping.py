"""The ``ping`` job, for testing."""


def run(environ: dict) -> dict:
    """Copies ``environ['ping']`` to ``environ['pong']``."""
    environ['pong'] = environ['ping']
    return environ
