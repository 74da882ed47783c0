"""Pascal with Free Pascal: ``fpc -O2 -XS -Xt a.pas``; units given as
additional sources are found in the same directory.  (The compiler proper,
``ppcx64``, is run directly; the host's ``/etc/fpc.cfg`` tells it where its
units are.)"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from sio.compilers.common import Compiler

_COMPILER = {'x86_64': 'ppcx64', 'aarch64': 'ppca64', 'i686': 'ppc386'}

COMPILERS = {
    'system-fpc': None, 'system-pas': None,
    'fpc2_6_2': 'compiler-fpc.2_6_2', 'default-pas': 'compiler-fpc.2_6_2', 'pas': 'compiler-fpc.2_6_2',
}


@dataclass
class FpcCompiler(Compiler):
    def command(self, tool, source, sources, extra_args):
        return [tool, *self.options, *extra_args, source]

    def host_binds(self):
        config = '/etc/fpc.cfg'
        return [(os.path.realpath(config), config)] if os.path.exists(config) else []


def run(environ: dict) -> dict:
    """Compile a Pascal source."""
    sandbox = COMPILERS[environ['compiler'].split('.')[0]]
    return FpcCompiler(lang='pas', tool=_COMPILER.get(platform.machine(), 'ppcx64'),
                       options=['-O2', '-XS', '-Xt'], sandbox=sandbox, output='a').compile(environ)
