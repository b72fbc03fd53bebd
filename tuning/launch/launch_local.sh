#!/usr/bin/env bash
# Distributed KerasTuner search on one machine: a chief (the oracle) and N
# workers, each a `symzoo tune ... --distributed` process that only differs in
# KERASTUNER_TUNER_ID. On a cluster, run the same command on every node with
# KERASTUNER_ORACLE_IP set to the chief's address and a shared --directory
# (see slurm_example.sbatch).
#
# Usage:
#   tuning/launch/launch_local.sh NAME [NUM_WORKERS] [-- extra symzoo tune args]
# Example:
#   tuning/launch/launch_local.sh set_sum 2 -- --quick --max-trials 8 --epochs 1
#
# Environment (optional): PORT (default: a free port), DIRECTORY (default
# runs/tuning), LOGS (default runs/tuning/logs), SYMZOO (the command, default
# "symzoo tune"; without the console script: SYMZOO="python -m symzoo.tuning.cli").
set -euo pipefail

NAME=${1:?usage: launch_local.sh NAME [NUM_WORKERS] [-- extra args]}
shift
NUM_WORKERS=2
if [[ $# -gt 0 && $1 != "--" ]]; then
  NUM_WORKERS=$1
  shift
fi
if [[ $# -gt 0 && $1 == "--" ]]; then
  shift
fi
EXTRA=("$@")

DIRECTORY=${DIRECTORY:-runs/tuning}
LOGS=${LOGS:-$DIRECTORY/logs}
if [[ -z ${PORT:-} ]]; then
  PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
read -r -a SYMZOO_CMD <<< "${SYMZOO:-symzoo tune}"
mkdir -p "$LOGS"

export KERASTUNER_ORACLE_IP=127.0.0.1
export KERASTUNER_ORACLE_PORT=$PORT

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
}
trap cleanup INT TERM

run() {  # run TUNER_ID: one process of the search, logged to $LOGS/TUNER_ID.log
  KERASTUNER_TUNER_ID=$1 "${SYMZOO_CMD[@]}" "$NAME" --distributed \
    --directory "$DIRECTORY" "${EXTRA[@]}" > "$LOGS/$1.log" 2>&1 &
  pids+=("$!")
  echo "started $1 (pid $!), log $LOGS/$1.log"
}

echo "oracle on $KERASTUNER_ORACLE_IP:$KERASTUNER_ORACLE_PORT, directory $DIRECTORY"
run chief
for ((i = 0; i < NUM_WORKERS; i++)); do
  run "tuner$i"
done

status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
echo "done (exit status $status); the chief's summary is in its --summary-dir (default tuning/$NAME)"
exit "$status"
