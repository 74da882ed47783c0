"""The compile job against the plain host compiler, in one run.

    .venv/bin/python benchmarks/bench_compile.py [--runs N]

Hello world in C and C++: ``gcc``/``g++`` run directly on the host vs the
``compile`` job (local files, isolated compiler with the same flags); medians
in ms and the overhead of isolation as a percentage.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from sio.compilers.gcc import COMPILERS
from sio.workers.runner import run
from timing import median_ms

# The same flags as the compile job's system compilers.
SOURCES = {
    'c': ('gcc', COMPILERS['system-gcc'][2], 'system-gcc',
          '#include <stdio.h>\nint main(void) { puts("Hello World"); return 0; }\n'),
    'cpp': ('g++', COMPILERS['system-g++'][2], 'system-g++',
            '#include <iostream>\nint main() { std::cout << "Hello World" << std::endl; }\n'),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f'{"":5} {"host compiler":>14} {"compile job":>12} {"overhead":>9}')
        for lang, (tool, options, compiler, text) in SOURCES.items():
            source = tmp / f'hello.{lang}'
            source.write_text(text)

            def plain():
                subprocess.run([tool, str(source), '-o', str(tmp / 'plain'), *options],
                               check=True)

            def job():
                result = run({'job_type': 'compile', 'use_filetracker': False,
                              'source_file': str(source), 'out_file': str(tmp / 'job.out'),
                              'compiler': compiler})
                assert result.get('result_code') == 'OK', result

            base, boxed = median_ms(plain, args.runs), median_ms(job, args.runs)
            print(f'{lang:5} {base:14.1f} {boxed:12.1f} {100 * (boxed / base - 1):8.1f}%')


if __name__ == '__main__':
    main()
