#!/usr/bin/env bash
# Run i-PI with the ase-mlham driver (mlham-ipi), from this folder.
#
#   ./run.sh          NVT MD of water (input.xml): one driver over the UNIX socket /tmp/ipi_mlham-nvt
#   ./run.sh pimd     4-bead PIMD (pimd.xml): two drivers over TCP on 127.0.0.1:31415
#
# MODEL=path/to/model.pt picks the model (default: the model shipped with ase-mlham).
# MODEL=random-tiny writes random-tiny.pt, a tiny model with random weights: it exercises the
# plumbing only, its energies and gaps mean nothing.
# Then: python plot_gap.py nvt   (or: python plot_gap.py pimd)
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-nvt}
case $mode in
    nvt)  input=input.xml; n_drivers=1; socket=(--unix --address mlham-nvt) ;;
    pimd) input=pimd.xml;  n_drivers=2; socket=(--inet --address 127.0.0.1 --port 31415) ;;
    *)    echo "usage: $0 [nvt|pimd]" >&2; exit 2 ;;
esac

model=()
if [[ -n "${MODEL:-}" ]]; then
    if [[ $MODEL == random-tiny ]]; then
        python -c "from ase_mlham.model.io import save_model; from ase_mlham.model.testing import random_tiny_model; save_model(random_tiny_model(), 'random-tiny.pt')"
        MODEL=random-tiny.pt
    fi
    model=(--model "$MODEL")
fi

pids=()
cleanup() {  # stop whatever is still running if this script is interrupted or fails
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

i-pi "$input" > "$mode.ipi.log" 2>&1 &
ipi_pid=$!
pids+=("$ipi_pid")
# the drivers retry until i-PI has opened its socket (--connect-timeout, 60 s)
driver_pids=()
for i in $(seq "$n_drivers"); do
    mlham-ipi "${socket[@]}" --template init.xyz ${model[@]+"${model[@]}"} > "$mode.driver$i.log" 2>&1 &
    driver_pids+=("$!")
    pids+=("$!")
done
echo "i-PI (pid $ipi_pid) and $n_drivers driver(s) running; logs in $mode.*.log"

status=0
wait "$ipi_pid" || status=$?
for pid in "${driver_pids[@]}"; do  # they exit by themselves when i-PI sends EXIT or goes away
    wait "$pid" || status=$?
done
tail -n 3 "$mode.out" 2>/dev/null || true
exit "$status"
