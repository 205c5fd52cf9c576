#!/usr/bin/env bash
# Every test: the unit tests, then every notebook under nbval in quick mode (QUICK=1).
# nbval compares only the cells tagged nbval-check-output; the others must run without error.
set -euo pipefail
cd "$(dirname "$0")"
export QUICK=1  # MPLBACKEND stays unset: the notebooks keep their inline plots
shopt -s nullglob
python3 -m pytest tests notebooks/*.ipynb --nbval-lax -p no:cacheprovider "$@"
