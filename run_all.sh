#!/usr/bin/env bash
# The whole course in one command: install, fetch FSDD, build the corpus, execute every
# notebook top to bottom in its full default mode, and export each one to reports/*.html.
#   bash run_all.sh              (QUICK=1 bash run_all.sh for a fast smoke run)
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
PYTHON=${PYTHON:-python3}
start=$SECONDS
step() { echo; echo "== [$((SECONDS - start)) s] $*"; }

step "installing the packages of requirements.txt"
$PYTHON -m pip install --quiet --disable-pip-version-check -r requirements.txt
step "finding FSDD (\$FSDD_DIR, a previous download, else downloading it)"
$PYTHON prepare_data.py fsdd
step "building the default digit corpus"
$PYTHON prepare_data.py digits
mkdir -p reports
for notebook in notebooks/*.ipynb; do
  step "executing $notebook"
  $PYTHON -m jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=-1 "$notebook"
  $PYTHON -m jupyter nbconvert --to html --output-dir reports "$notebook"
done
step "done: the executed notebooks are in notebooks/, their HTML reports in $(pwd)/reports/"
