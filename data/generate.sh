#!/usr/bin/env bash
# The resumable background jobs that make the reference frames of data/README.md, one part a call:
#   nohup nice -n 19 bash data/generate.sh test-then-series >> runs/generate-test.log 2>&1 &
#   nohup nice -n 19 bash data/generate.sh train >> runs/generate-train.log 2>&1 &
# Each job resumes where its database stops (`mlham generate` skips frames already written), so after a
# restart decompress the committed snapshot first: xz -dc data/mol-test.db.xz > runs/mol-test.db
# Snapshot what a running job has written with: python data/snapshot.py runs/mol-test.db runs/mol-train.db
set -euo pipefail
export OMP_NUM_THREADS=1
cd "$(dirname "$0")/.."
L=data/molecules/molecules.smi
S="--relax --temperature 500 --stride 200 --seed 19 --quiet"
part=${1:?usage: generate.sh validation|test|series|test-then-series|train}
run_validation() { mlham generate --list $L --split validation --frames 2 $S --db runs/mol-validation.db; }
run_test() { mlham generate --list $L --split test --frames 2 $S --db runs/mol-test.db; }
run_train() { mlham generate --list $L --split train --frames 3 $S --db runs/mol-train.db; }
run_series() {  # evaluation only, never trained on: 1 frame each at the GFN2-xTB minimum
  for f in data/molecules/series/*.xyz; do
    mlham generate "$f" --frames 1 --relax --seed 19 --quiet --max-memory 8000 --db runs/series.db
  done
}
case $part in
  validation|test|series|test-then-series|train) mkdir -p runs ;;
  *) echo "unknown part: $part (validation, test, series, test-then-series or train)" >&2; exit 2 ;;
esac
case $part in
  validation) run_validation ;;
  test) run_test ;;
  series) run_series ;;
  test-then-series) run_test; run_series ;;
  train) run_train ;;
esac
echo "$(date -u +%FT%TZ) generate.sh $part: done"
