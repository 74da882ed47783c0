#!/usr/bin/env bash
# The main job: sets up what is missing, then runs the demo (see README).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
exec "${SIO_VENV:-$root/.venv}/bin/sio-ray" demo "$@"
