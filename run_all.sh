#!/usr/bin/env bash
# The whole course in one command: install, fetch FSDD, build the corpus, execute every
# notebook top to bottom in its full default mode, and export each one to reports/*.html.
#   bash run_all.sh              (QUICK=1 bash run_all.sh for a fast smoke run)
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL=2
unset MPLBACKEND  # the notebook kernels inherit it; it must stay matplotlib's inline backend
# Our machines keep an offline copy of FSDD beside the clone; elsewhere it is downloaded.
if [[ -z "${FSDD_DIR:-}" && -d ../shared/datasets/fsdd/recordings ]]; then
  export FSDD_DIR=$(cd ../shared/datasets/fsdd/recordings && pwd)
fi
PYTHON=${PYTHON:-python3}
start=$SECONDS
step() { echo; echo "== [$((SECONDS - start)) s] $*"; }

step "installing the packages of requirements.txt"
$PYTHON -m pip install --quiet --disable-pip-version-check -r requirements.txt
step "installing the system packages where missing (Chromium for the HTML report test, flite and festival for the synthetic voices)"
bash .ci/install_system_packages.sh
step "finding FSDD (\$FSDD_DIR, a previous download, else downloading it)"
$PYTHON prepare_data.py fsdd
step "building the default digit corpus"
$PYTHON prepare_data.py digits
step "writing the learner's edition (exercises/) from the solution"
$PYTHON make_exercises.py
for notebook in notebooks/*.ipynb; do
  step "executing $notebook"
  $PYTHON run_notebooks.py "$notebook" --reports reports
done
step "done: the executed notebooks are in notebooks/, their HTML reports in $(pwd)/reports/"
