#!/usr/bin/env bash
# Install what bench/fanout.py compares fleetdeck with:
#   - Debian packages: OpenSSH client/server, pssh (parallel-ssh), clustershell (clush), pdsh, time;
#   - bench/.venv: ansible-core, py-spy and pyte (the console bench's terminal emulator) from bench/requirements.txt.
# Safe to re-run: only what is missing is installed. apt needs root; without it the apt part is
# skipped with a note and the bench skips the missing tools.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"

need_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
need_cmd ssh || missing+=(openssh-client)
need_cmd sshd || missing+=(openssh-server)
need_cmd parallel-ssh || missing+=(pssh)
need_cmd clush || missing+=(clustershell)
need_cmd pdsh || missing+=(pdsh)
[ -x /usr/bin/time ] || missing+=(time)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            apt-get install -y -q "${missing[@]}" >/dev/null
        }
    else
        echo "setup: missing ${missing[*]}: install them with apt-get as root (the bench skips them meanwhile)"
    fi
fi

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
if ! "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"; then
    echo "setup: could not install bench/requirements.txt into $venv (ansible-raw will be skipped)" >&2
    exit 1
fi
echo "setup: ok ($("$venv/bin/ansible" --version 2>/dev/null | sed -n 1p), $("$venv/bin/py-spy" --version))"
