"""C and C++ with gcc/g++.

Command: ``gcc a.c -o a.out <options> <extra_compilation_args> <additional
sources>``.  The ``system-*`` names use the host toolchain; the versioned
names OIOIOI configures use the software sandbox of that gcc when it is
published (``compiler-gcc.12_2_0``...) and the host's gcc with the same flags
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from sio.compilers.common import Compiler

_STATIC = ['-static', '-O3', '-s']

#: name -> (language, sandbox, options)
COMPILERS = {
    'system-gcc': ('c', None, ['-O2', '-s', '-lm']),
    'system-c': ('c', None, ['-O2', '-s', '-lm']),
    'system-g++': ('cpp', None, ['-std=c++20', '-O2', '-s', '-lm']),
    'system-cc': ('cpp', None, ['-std=c++20', '-O2', '-s', '-lm']),
    'system-cpp': ('cpp', None, ['-std=c++20', '-O2', '-s', '-lm']),
    'gcc4_8_2_c99': ('c', 'compiler-gcc.4_8_2', ['-std=gnu99', *_STATIC, '-lm']),
    'gcc12_2_0_c17': ('c', 'compiler-gcc.12_2_0', ['-std=c17', *_STATIC, '-lm']),
    'gcc14_2_0_c17': ('c', 'compiler-gcc.14_2_0', ['-std=gnu17', *_STATIC, '-lm']),
    'default-c': ('c', 'compiler-gcc.14_2_0', ['-std=gnu17', *_STATIC, '-lm']),
    'c': ('c', 'compiler-gcc.14_2_0', ['-std=gnu17', *_STATIC, '-lm']),
    'g++4_8_2_cpp11': ('cpp', 'compiler-gcc.4_8_2', ['-std=c++11', *_STATIC]),
    'g++6_3_cpp14': ('cpp', 'compiler-gcc.6_3_0', ['-std=c++14', *_STATIC]),
    'g++8_3_cpp17': ('cpp', 'compiler-gcc.8_3_0-i386', ['-std=c++17', *_STATIC]),
    'g++8_3_cpp17_amd64': ('cpp', 'compiler-gcc.8_3_0-amd64', ['-std=c++17', *_STATIC]),
    'g++10_2_cpp17_amd64': ('cpp', 'compiler-gcc.10_2_1', ['-std=c++17', *_STATIC]),
    'g++12_2_cpp20_amd64': ('cpp', 'compiler-gcc.12_2_0', ['-std=c++20', *_STATIC]),
    'g++14_2_cpp23_amd64': ('cpp', 'compiler-gcc.14_2_0', ['-std=c++23', *_STATIC]),
    'default-cc': ('cpp', 'compiler-gcc.14_2_0', ['-std=c++23', *_STATIC]),
    'default-cpp': ('cpp', 'compiler-gcc.14_2_0', ['-std=c++23', *_STATIC]),
    'cc': ('cpp', 'compiler-gcc.14_2_0', ['-std=c++23', *_STATIC]),
    'cpp': ('cpp', 'compiler-gcc.14_2_0', ['-std=c++23', *_STATIC]),
}


@dataclass
class GccCompiler(Compiler):
    """gcc for ``c``, g++ for ``cpp`` (``.cc`` sources keep their extension)."""

    def command(self, tool, source, sources, extra_args):
        return [tool, source, '-o', self.output, *self.options, *extra_args, *sources]


def compiler_for(name: str, environ: dict) -> GccCompiler:
    lang, sandbox, options = COMPILERS[name]
    extension = 'cc' if lang == 'cpp' and str(environ.get('source_file', '')).endswith('.cc') \
        else lang
    return GccCompiler(lang=lang, tool='gcc' if lang == 'c' else 'g++', options=list(options),
                       sandbox=sandbox, extension=extension)


def run(environ: dict) -> dict:
    """Compile a C or C++ source (the compiler named by ``environ['compiler']``)."""
    return compiler_for(environ['compiler'].split('.')[0], environ).compile(environ)
