#!/usr/bin/env bash
# The README's second command: install what the tests need, then run the whole suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
