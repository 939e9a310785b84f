#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install the requirements (skipped when unchanged).
# Usage: scripts/setup.sh [requirements file, default requirements.txt]
set -euo pipefail
cd "$(dirname "$0")/.."
REQS="${1:-requirements.txt}"
# tests only: face-alignment (the fan landmark backend's network) goes in without its dependencies,
# as it asks for opencv-python, which clashes with opencv-python-headless; requirements-dev.txt
# lists the modules it really imports
DEV_NO_DEPS="face-alignment==1.5.0"

pick_python() {
    for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$cand"; return 0
        fi
    done
    echo "LipSpool needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    PY="$(pick_python)"
    echo "setup: creating .venv with $($PY --version)" >&2
    if ! "$PY" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            echo "setup: installing Debian's python3-venv" >&2
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$PY" -m venv .venv
        else
            echo "setup: '$PY -m venv' failed; install your distribution's python3-venv package" >&2
            exit 1
        fi
    fi
fi

stamp=".venv/.installed-$(basename "$REQS")"
want="$( (cat requirements*.txt; echo "$DEV_NO_DEPS") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing $REQS into .venv (ffmpeg comes inside the PyAV wheel)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQS"
    if [ "$(basename "$REQS")" = requirements-dev.txt ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "$DEV_NO_DEPS"
    fi
    echo "$want" > "$stamp"
fi
