"""What this node can do for untrusted programs, found by trying it.

:func:`capabilities` runs a trivial program (the launcher's ``--exit-ok``) in a
real box, once with instruction counting; the result is cached for the
process.  The Ray back-end turns it into node tags.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sio.workers.isolation import box, cgroups


@dataclass(frozen=True)
class Capabilities:
    """What boxes can do on this node; ``reasons`` says why something is missing."""

    isolation: bool
    instructions: bool
    cgroups: str | None
    reasons: tuple[str, ...] = ()


def _try(count_instructions: bool) -> str | None:
    """None when a boxed run works, else why not."""
    with tempfile.TemporaryDirectory(prefix='sio-probe-') as tmp:
        request = box.BoxRequest(argv=['/.launcher', '--exit-ok'], box_dir=Path(tmp),
                                 view=box.BoxView(host_libs=False),
                                 count_instructions=count_instructions,
                                 time_limit_ms=5000)
        try:
            outcome = box.run(request)
        except Exception as exc:  # anything that stops a box from running is the answer
            return str(exc)
    if outcome.error:
        return outcome.error
    if not outcome.exited or outcome.exit_code != 0:
        return f'probe program ended with {outcome}'
    if count_instructions and outcome.instructions is None:
        return 'no instruction count reported'
    return None


@lru_cache(maxsize=None)
def capabilities() -> Capabilities:
    """Probe (once per process) isolation, instruction counting and cgroups."""
    reasons = []
    isolation_error = 'bubblewrap (bwrap) is not installed' if not shutil.which('bwrap') \
        else _try(False)
    if isolation_error:
        reasons.append(f'isolation: {isolation_error}')
    instructions_error = isolation_error or _try(True)
    if instructions_error:
        reasons.append(f'instruction counting: {instructions_error}')
    return Capabilities(isolation=not isolation_error, instructions=not instructions_error,
                        cgroups=cgroups.backend(), reasons=tuple(reasons))
