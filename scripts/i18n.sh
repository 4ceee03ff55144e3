#!/usr/bin/env bash
# Participant-page translations (Flask-Babel): extract the strings, merge them into every catalogue, compile.
#   scripts/i18n.sh            extract + update + compile (after changing a participant string)
#   scripts/i18n.sh compile    compile only (the .mo files are committed; a fresh clone needs nothing)
# A new language: pybabel init -i translations/messages.pot -d translations -l xx, translate it, add it to
# experiment/texts.py LANGUAGES, run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-$(dirname "$(command -v python)")/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
if [ "${1:-}" != "compile" ]; then
  "$PYBABEL" extract -F babel.cfg -k _l -o translations/messages.pot --no-location --omit-header --sort-output .
  "$PYBABEL" update -i translations/messages.pot -d translations --no-fuzzy-matching --omit-header
fi
"$PYBABEL" compile -d translations --statistics
