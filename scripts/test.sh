#!/usr/bin/env bash
# Set up everything the tests need, then run them.
#
# With no arguments (the README's command, and CI): most tests run two at a time
# (pytest-xdist, one per core), then the ones that measure timing in real time
# (marked "alone") run by themselves, so no other test competes for the CPU.
# With arguments, they go to one plain pytest run (e.g. -m long, or a test file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m pytest -q --durations=12 "$@"
fi
.venv/bin/python -m pytest -q -n 2 -m "not long and not alone" --durations=12
exec .venv/bin/python -m pytest -q -m "alone" --durations=6
