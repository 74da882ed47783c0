#!/usr/bin/env bash
# Installs what sio-ray needs, and nothing twice: Debian packages, a virtualenv
# (.venv, or $SIO_VENV) and the package in editable mode.
#   scripts/setup.sh           runtime only
#   scripts/setup.sh --test    also the test/doc tools and the test plugin package
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SIO_VENV:-$root/.venv}
mode=${1:-runtime}

apt_packages=(libdb-dev bubblewrap gcc g++ make default-jdk-headless fp-compiler python3)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "setup: $python is missing or older than 3.11 (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
# A Debian system Python needs its venv and header packages (bsddb3 is compiled).
"$python" -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
"$python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x "$venv/bin/python" ] || { echo "setup: creating $venv" >&2; "$python" -m venv "$venv"; }

# Reinstall only when what decides the install changed.
stamp="$venv/.sio-setup-$mode"
want=$(cat "$root/pyproject.toml" "$root/tests/plugin/pyproject.toml" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing sio-ray into $venv ($mode)" >&2
    targets=(-e "$root")
    [ "$mode" = --test ] && targets=(-e "$root[test]" -e "$root/tests/plugin")
    log="$venv/pip-install.log"
    if ! { "$venv/bin/python" -m pip install -q --upgrade pip &&
           "$venv/bin/python" -m pip install -q "${targets[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: pip install failed (log above, also in $log)" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
