"""What every compiler shares: fetching the sources, running the toolchain in a
box, turning the outcome into ``OK`` or ``CE``, uploading the result.

A compiler runs **isolated**: a source is untrusted input.  Its box holds the
job's files (the source, additional includes and sources, ``extra_files``,
the unpacked ``additional_archive``) and sees a toolchain read-only: the
software sandbox ``compiler-<name>`` when one is published in filetracker
(unpacked root-like: its ``usr``, ``lib``... become the box's, and nothing of
the host's system is there), otherwise the host's ``/usr``.
``compiler_toolchain`` in the result says which, and its version.  Every limit
ends in ``CE`` with a clear ``compiler_output``.

A versioned compiler (one with a sandbox) whose sandbox is not available falls
back to the host's toolchain with the same options, and says so in
``compiler_toolchain_fallback``; a node with ``SIO_COMPILER_HOST_FALLBACK=deny``
refuses instead: the job fails (``FAILURE``, not ``CE``) naming the sandbox.

**Limits** (:data:`LIMITS`, keys ``compilation_*``): 30 000 ms of CPU time
per compiler pass, :data:`REAL_TIME_FACTOR` times that of wall-clock time,
524 288 KiB of resident memory (the box's tmpfs included), 5 120 bytes of
compiler messages kept; at most :data:`MAX_PASSES` passes (javac and jar).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sio.workers import ft, settings
from sio.workers.executors import IsolatedExecutor, Limits
from sio.workers.isolation.box import BoxView
from sio.workers.isolation.boxfiles import (BoxFileError, copy_box_file, create_box_file,
                                            make_box_dir)
from sio.workers.results import CE, OK, OLE, RE
from sio.workers.sandbox import SandboxError, get_sandbox
from sio.workers.util import replace_invalid_UTF, tempcwd

logger = logging.getLogger(__name__)

#: The node setting for versioned compilers without their sandbox: ``allow``
#: (the default: compile with the host's toolchain, noted in the result) or
#: ``deny`` (fail the job).
HOST_FALLBACK_VARIABLE = settings.COMPILER_HOST_FALLBACK.name

#: The compile job's limits (``compilation_*`` keys) when the environ gives
#: none: per compiler pass; the output limit is of the messages kept
#: (``compilation_output_limit: None`` keeps them all).
LIMITS = Limits(time_limit=30_000, mem_limit=512 << 10, output_limit=5120)
#: The keys of :data:`LIMITS` in the environ.
PREFIX = 'compilation_'
#: A pass's wall-clock limit, without ``compilation_real_time_limit``, is
#: this many times its time limit.
REAL_TIME_FACTOR = 3
#: The most passes a compiler runs (Java: javac, then jar).
MAX_PASSES = 2
#: Largest file a compiler may write: twice the result size limit (objects
#: and temporaries come before the program), at least this much.
MIN_FILE_SIZE_LIMIT = 64 << 20
SIZE_LIMIT_MESSAGE = 'Compiled file size limit exceeded.'
#: Most bytes an ``additional_archive`` may unpack to.
ARCHIVE_SIZE_LIMIT = 256 << 20


def _as_list(value, key: str, lang: str) -> list[str]:
    """A string, a list, or a ``{language: string or list}`` dict, as a list."""
    if isinstance(value, dict):
        value = value.get(lang, [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f'environ[{key!r}]: {value!r} is not a path, a list of them, '
                     'or a dict of them by language')


@functools.lru_cache(maxsize=None)
def host_tool_version(tool: str) -> str:
    """First line of ``tool --version`` (``-version`` for Java tools)."""
    for flag in ('--version', '-version', '-h'):
        try:
            done = subprocess.run([tool, flag], capture_output=True, text=True, timeout=30)
        except OSError:
            return 'not installed'
        text = (done.stdout or done.stderr).strip()
        if done.returncode == 0 and text:
            return text.splitlines()[0]
    return 'unknown version'


@dataclass
class Toolchain:
    """Where the compiler's programs come from, as the box sees them."""

    description: str
    #: What the compiler's box sees: the host's ``/usr`` (and libraries), or
    #: a sandbox's directories and nothing of the host's system.
    view: BoxView = field(default_factory=BoxView)

    @property
    def host(self) -> bool:
        """Whether the toolchain is the host's."""
        return self.view.host_libs is not False

    def resolve(self, tool: str) -> str:
        """The path of program ``tool`` inside the box.  Host tools are
        resolved on the host (Debian's alternatives live in /etc, which the
        box does not have)."""
        if not self.host:
            return f'/usr/bin/{tool}'
        found = shutil.which(tool, path='/usr/bin:/bin')
        if not found:
            raise RuntimeError(f'the compiler program {tool!r} is not installed on this node')
        return os.path.realpath(found)


class ToolchainUnavailable(RuntimeError):
    """A compiler's toolchain sandbox is missing and the node forbids the host fallback."""


def host_fallback_allowed() -> bool:
    """Whether this node lets versioned compilers use the host's toolchain when
    their sandbox is missing (``$SIO_COMPILER_HOST_FALLBACK``, default ``allow``)."""
    return settings.COMPILER_HOST_FALLBACK.get() == 'allow'


def _host_toolchain(tool: str, extra_binds: list[tuple[str, str]]) -> Toolchain:
    return Toolchain(f'host {host_tool_version(tool)}',
                     BoxView((('/usr', '/usr'), *extra_binds)))


def _sandbox_toolchain(name: str, stack) -> Toolchain:
    """The published software sandbox ``name``, entered for the job (raises
    :class:`SandboxError`, :class:`ft.FiletrackerError` or :class:`OSError`
    when it cannot be had)."""
    sandbox = stack.enter_context(get_sandbox(name))
    root = Path(sandbox.path)
    binds = [(str(child), '/' + child.name) for child in sorted(root.iterdir())
             if child.is_dir() and not child.name.startswith('.')]
    return Toolchain(f'sandbox {name} (version {sandbox.installed_version()})',
                     BoxView(tuple(binds), host_libs=False))


class _CompilerExecutor(IsolatedExecutor):
    """The compiler's box (what it sees is its toolchain's
    :attr:`Toolchain.view`).  Its memory limit is on resident memory:
    compilers (a JVM for javac) reserve far more address space than they use."""

    memory_mode = 'resident'
    keep_files = True  # the compiled program


@dataclass
class Compiler:
    """A compiler: how to turn the source in the box into ``output``.

    Subclasses set ``lang`` (the language code of per-language keys),
    ``tool`` (the host program), and implement :meth:`command`.
    """

    lang: str
    tool: str
    options: list[str] = field(default_factory=list)
    #: The software sandbox with this compiler's own toolchain, if any.
    sandbox: str | None = None
    extension: str = ''
    output: str = 'a.out'

    # -- what subclasses provide ------------------------------------------

    def source_name(self, environ: dict) -> str:
        return f'a.{self.extension or self.lang}'

    def command(self, tool: str, source: str, sources: list[str],
                extra_args: list[str]) -> list[str]:
        """The command line, ``tool`` being the compiler's path in the box."""
        raise NotImplementedError

    def exec_info(self, environ: dict) -> dict:
        return {'mode': 'executable'}

    def host_binds(self) -> list[tuple[str, str]]:
        """Host files outside /usr the host toolchain needs (read-only)."""
        return []

    def steps(self, toolchain: Toolchain, source: str, sources: list[str],
              extra_args: list[str]) -> list[list[str]]:
        """The commands to run in order (most compilers need one)."""
        return [self.command(toolchain.resolve(self.tool), source, sources, extra_args)]

    def toolchain(self, environ: dict, stack: contextlib.ExitStack) -> Toolchain:
        """The toolchain to compile with: the sandbox, or the host's (only
        when allowed if a sandbox was wanted; ``compiler_toolchain_fallback``
        then says why)."""
        environ.pop('compiler_toolchain_fallback', None)
        if not self.sandbox:
            return _host_toolchain(self.tool, self.host_binds())
        try:
            return _sandbox_toolchain(self.sandbox, stack)
        except (SandboxError, ft.FiletrackerError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
        if not host_fallback_allowed():
            raise ToolchainUnavailable(
                f'compiler {environ.get("compiler")!r} needs the toolchain sandbox '
                f'{self.sandbox}, which this node cannot get ({reason}), and '
                f'{HOST_FALLBACK_VARIABLE}=deny forbids the host toolchain; publish it with '
                f'"sio-publish-sandbox DIR --name {self.sandbox}"')
        toolchain = _host_toolchain(self.tool, self.host_binds())
        environ['compiler_toolchain_fallback'] = (
            f'the toolchain sandbox {self.sandbox} is not available ({reason}); compiled with '
            f'the host toolchain and the same options instead ({HOST_FALLBACK_VARIABLE}=deny '
            f'on the node forbids this)')
        logger.warning('Compiler %s: %s', environ.get('compiler'),
                       environ['compiler_toolchain_fallback'])
        return toolchain

    # -- the compile job ----------------------------------------------------

    def compile(self, environ: dict) -> dict:
        box = Path(tempcwd('box'))
        box.mkdir(exist_ok=True)
        source = self.source_name(environ)
        ft.download(environ, 'source_file', str(box / source))
        sources = self._fetch_extras(environ, box)
        extra_args = _as_list(environ.get('extra_compilation_args', []),
                              'extra_compilation_args', self.lang)
        limits = Limits.resolve(LIMITS, environ, PREFIX)
        output_limit = limits.output_limit
        size_limit = environ.get('compilation_result_size_limit')
        with contextlib.ExitStack() as stack:
            toolchain = self.toolchain(environ, stack)
            environ['compiler_toolchain'] = toolchain.description
            # Toolchains start their passes and may probe for networking (javac).
            executor = _CompilerExecutor(view=toolchain.view, allow_exec=True,
                                         allow_sockets=True, max_tasks=128)
            output = b''
            for step in self.steps(toolchain, source, sources, extra_args):
                result = executor(
                    step, cwd=box, capture_output=True, forward_stderr=True, ignore_errors=True,
                    env={'PATH': '/usr/bin:/bin', 'TMPDIR': '/box', 'LC_ALL': 'C.UTF-8'},
                    time_limit=limits.time_limit, mem_limit=limits.mem_limit,
                    real_time_limit=limits.real_time_limit
                    or REAL_TIME_FACTOR * limits.time_limit,
                    file_size_limit=max(2 * (size_limit or 0), MIN_FILE_SIZE_LIMIT))
                output += result.stdout or b''
                if b'File size limit exceeded' in output or result.result_code == OLE:
                    return self._finish(environ, CE, SIZE_LIMIT_MESSAGE.encode(), output_limit)
                if result.result_code == 'SE':  # the box failed, not the submission
                    raise RuntimeError(f'the compiler could not be run: {result.result_string}')
                if result.result_code != OK:
                    if result.result_code not in (RE, OK):
                        output += f'\nCompiler stopped: {result.result_string}\n'.encode()
                    return self._finish(environ, CE, output, output_limit)
        # The result is read out of the box safely: a regular file, no link, capped.
        staging = Path(tempcwd('result'))
        staging.mkdir(exist_ok=True)
        produced = staging / self.output
        try:
            copy_box_file(box, self.output, produced,
                          limit=size_limit if size_limit is not None else MIN_FILE_SIZE_LIMIT)
        except BoxFileError as exc:
            if exc.kind == 'too-large':
                return self._finish(environ, CE, SIZE_LIMIT_MESSAGE.encode(), output_limit)
            problem = b'no program' if exc.kind == 'missing' else \
                f'no usable program: {exc}'.encode()
            return self._finish(environ, CE, output + b'\nThe compiler produced ' + problem
                                + b'.\n', output_limit)
        environ['exec_info'] = self.exec_info(environ)
        ft.upload(environ, 'out_file', str(produced))
        return self._finish(environ, OK, output, output_limit)

    def _finish(self, environ: dict, code: str, output: bytes, limit: int | None) -> dict:
        if limit is not None:
            output = output[:limit]
        environ['result_code'] = code
        text = replace_invalid_UTF(output)
        if limit is not None:
            while len(text.encode()) > limit:  # repaired bytes may have grown
                text = text[:-1]
        environ['compiler_output'] = text
        if code != OK:
            environ.pop('exec_info', None)
        return environ

    def _fetch_extras(self, environ: dict, box: Path) -> list[str]:
        """Includes, sources, extra files and the archive, into the box; the
        additional source names (to pass to the compiler)."""
        for path in _as_list(environ.get('additional_includes', []), 'additional_includes',
                             self.lang):
            _fetch_path(environ, path, box)
        sources = [_fetch_path(environ, path, box) for path in
                   _as_list(environ.get('additional_sources', []), 'additional_sources',
                            self.lang)]
        extra = environ.get('extra_files') or {}
        if not isinstance(extra, dict):
            raise ValueError(f"environ['extra_files']: {extra!r} is not a dict of name: path")
        for name, path in extra.items():
            _fetch_path(environ, path, box, os.path.basename(name))
        if environ.get('additional_archive'):
            _unpack(Path(ft.download(environ, 'additional_archive', tempcwd('archive.zip'))), box)
        return sources


def _fetch_path(environ: dict, path: str, box: Path, name: str | None = None) -> str:
    """Download ``path`` into the box (as ``name``, default its basename); its name there."""
    name = name or os.path.basename(ft.unversioned(path))
    if not name or name in ('.', '..'):
        raise ValueError(f'cannot name the file downloaded from {path!r}')
    ft.download_path(environ, path, str(box / name), add_to_cache=True)
    return name


def _unpack(archive: Path, box: Path) -> None:
    """Extract the zip into the box, never overwriting, never leaving it and
    never following a link (:mod:`sio.workers.isolation.boxfiles`); at most
    :data:`ARCHIVE_SIZE_LIMIT` bytes."""
    unpacked = 0
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.infolist():
                name = member.filename.rstrip('/')
                try:
                    if member.is_dir():
                        make_box_dir(box, name)
                        continue
                    with z.open(member) as src, create_box_file(box, name) as dst:
                        while chunk := src.read(1 << 20):
                            unpacked += len(chunk)
                            if unpacked > ARCHIVE_SIZE_LIMIT:
                                raise ValueError(
                                    "environ['additional_archive']: unpacks to more than "
                                    f'{ARCHIVE_SIZE_LIMIT} bytes')
                            dst.write(chunk)
                except BoxFileError as exc:
                    reason = {'bad-name': 'outside the job directory',
                              'exists': 'would overwrite a file'}.get(exc.kind, exc.problem)
                    logger.warning('Skipping archive member %s: %s', member.filename, reason)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"environ['additional_archive']: not a zip archive: {exc}") from None
