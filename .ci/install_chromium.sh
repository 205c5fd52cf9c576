#!/usr/bin/env bash
# Chromium from the system packages, where missing: tests/test_reports.py opens the HTML
# reports in it. Called by .ci/run and run_all.sh.
set -euo pipefail
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  as_root=$([[ $(id -u) == 0 ]] || echo sudo)
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
