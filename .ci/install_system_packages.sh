#!/usr/bin/env bash
# The Debian packages the project needs, where missing, in one apt-get call. Called by .ci/run
# and run_all.sh.
# - chromium: tests/test_reports.py opens the HTML reports in it;
# - flite, festival and three festival voices: the synthetic voices of tts_voices.py.
set -euo pipefail
wanted=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || wanted+=(chromium)
command -v flite >/dev/null || wanted+=(flite)
command -v text2wave >/dev/null || wanted+=(festival)
for voice in festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts; do
  dpkg-query -W -f='${Status}' "$voice" 2>/dev/null | grep -q "install ok installed" \
    || wanted+=("$voice")
done
if (( ${#wanted[@]} )); then
  as_root=$([[ $(id -u) == 0 ]] || echo sudo)
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null
fi
