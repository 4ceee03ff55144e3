#!/usr/bin/env bash
# The README's first command: set up .venv from nothing, then run the demo on the simulated data set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tuneback demo "$@"
