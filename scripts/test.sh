#!/usr/bin/env bash
# The whole test suite: sets up what is missing, then runs pytest (extra arguments go to pytest).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --test
cd "$root"
exec "${SIO_VENV:-$root/.venv}/bin/python" -m pytest "$@"
