"""Java: ``javac`` then ``jar``; the result runs with ``exec_info`` mode ``java``.

The class name is ``problem_short_name`` if given, else the source's name;
the source is saved as ``<class>.java``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sio.compilers.common import Compiler
from sio.executors.runners import java_runtime
from sio.workers import ft

COMPILERS = {'system-java': None, 'java1_8': 'compiler-java.1_8',
             'default-java': 'compiler-java.1_8', 'java': 'compiler-java.1_8'}


@dataclass
class JavaCompiler(Compiler):
    class_name: str = 'a'

    def source_name(self, environ):
        return f'{self.class_name}.java'

    def steps(self, toolchain, source, sources, extra_args):
        jvm = ['-J-Xss32M', '-J-XX:+UseSerialGC', '-J-XX:-UsePerfData']
        jar = toolchain.resolve('jar')
        # jar takes the classes javac wrote: a shell expands the glob in the box.
        return [[toolchain.resolve('javac'), *jvm, *extra_args, source, *sources],
                [toolchain.resolve('sh'), '-c',
                 f'exec {jar} -J-XX:+UseSerialGC -J-XX:-UsePerfData cf {self.output} *.class']]

    def host_binds(self):
        return java_runtime()[1]

    def exec_info(self, environ):
        return {'mode': 'java', 'main_class': self.class_name,
                'preferred_filename': f'{self.class_name}.jar'}


def run(environ: dict) -> dict:
    """Compile a Java source into a jar."""
    name = environ.get('problem_short_name') or \
        Path(ft.unversioned(str(environ.get('source_file', 'a')))).stem
    if not name.isidentifier():
        raise ValueError(f'Java class name {name!r} (from problem_short_name or source_file) '
                         'is not a valid identifier')
    return JavaCompiler(lang='java', tool='javac', class_name=name,
                        sandbox=COMPILERS[environ['compiler'].split('.')[0]],
                        output=f'{name}.jar').compile(environ)
