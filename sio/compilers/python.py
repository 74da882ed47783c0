"""Python: the source is checked for syntax at compile time (a ``SyntaxError``
is ``CE``) and runs, as it is, with ``exec_info`` mode ``python`` under the
host's ``python3`` in the isolated executor."""

from __future__ import annotations

from dataclasses import dataclass

from sio.compilers.common import Compiler

COMPILERS = ('python', 'system-python', 'default-py', 'python3', 'python_3_4_numpy',
             'python_3_7_numpy', 'python_3_9_numpy')


@dataclass
class PythonCompiler(Compiler):
    def command(self, tool, source, sources, extra_args):
        # Compile to bytecode in memory only: the source itself is the program.
        check = ('import sys; source = open(sys.argv[1], "rb").read(); '
                 'compile(source, sys.argv[1], "exec")')
        return [tool, '-I', '-c', check, source]

    def exec_info(self, environ):
        return {'mode': 'python'}


def run(environ: dict) -> dict:
    """Check a Python source; the program is the source."""
    return PythonCompiler(lang='py', tool='python3', output='a.py').compile(environ)
