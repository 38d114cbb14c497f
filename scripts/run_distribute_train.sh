#!/bin/bash
# Data-parallel training, one process per device, one log per rank in OUTPUT_DIR/log/.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_distribute_train.sh LAUNCHER DEVICE_NUM DEVICE_TARGET CONFIG_PATH OUTPUT_DIR [--key value ...]
  LAUNCHER       msrun                 MindSpore's launcher (Ascend, GPU, CPU)
                 mpirun                OpenMPI (GPU)
                 /path/to/rank_table.json
                                       Ascend with a rank table (hccl_tools.py): one process per device,
                                       DEVICE_ID = DEVICE_START + rank, RANK_ID = rank
  DEVICE_NUM     processes (devices) on this machine
  DEVICE_TARGET  Ascend | GPU | CPU
  CONFIG_PATH    a yaml of config keys; batch_size is per device, the lr scales with the global batch
  OUTPUT_DIR     rank 0 writes checkpoints, train_log.jsonl and config.yaml here; logs in OUTPUT_DIR/log/
  --key value    further train.py overrides (--data_root, --train_list, --val_list, --pretrained, ...)
Environment: PYTHON (default python3 from PATH), MASTER_PORT (msrun, default 8118), DEVICE_START (rank table,
default 0).
Examples:
  bash scripts/run_distribute_train.sh /path/hccl_8p.json 8 Ascend default_config.yaml /runs/tsm_r50 --data_root ...
  bash scripts/run_distribute_train.sh msrun 8 Ascend default_config.yaml /runs/tsm_r50 --data_root ...
  bash scripts/run_distribute_train.sh mpirun 8 GPU default_config.yaml /runs/tsm_r50 --data_root ...
  PYTHON=.venv/bin/python bash scripts/run_distribute_train.sh msrun 2 CPU configs/demo_tsm.yaml /tmp/demo ...
USAGE
}

if [ $# -lt 5 ]; then usage; exit 1; fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
LAUNCHER=$1
DEVICE_NUM=$2
DEVICE_TARGET=$3
CONFIG_PATH=$(abspath "$4")
OUTPUT_DIR=$(abspath "$5")
shift 5
[[ "$DEVICE_NUM" =~ ^[1-9][0-9]*$ ]] || { echo "DEVICE_NUM must be a positive number, got '$DEVICE_NUM'"; exit 1; }
case "$DEVICE_TARGET" in Ascend|GPU|CPU) ;; *) echo "DEVICE_TARGET must be Ascend, GPU or CPU"; exit 1;; esac
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }
# msrun and mpirun start a bare `python`: put the chosen interpreter's directory first on PATH.
export PATH="$(dirname "$PYTHON"):$PATH"
LOG_DIR="$OUTPUT_DIR/log"
mkdir -p "$LOG_DIR"
ARGS=(--config_path "$CONFIG_PATH" --device_target "$DEVICE_TARGET" --output_dir "$OUTPUT_DIR" "$@")

case "$LAUNCHER" in
  msrun)
    echo "msrun: $DEVICE_NUM workers, logs: $LOG_DIR/worker_<rank>.log"
    msrun --worker_num="$DEVICE_NUM" --local_worker_num="$DEVICE_NUM" --master_port="${MASTER_PORT:-8118}" \
          --log_dir="$LOG_DIR" --join=True "$ROOT/train.py" "${ARGS[@]}"
    ;;
  mpirun)
    [ "$DEVICE_TARGET" != "Ascend" ] || { echo "use msrun or a rank table on Ascend"; exit 1; }
    echo "mpirun: $DEVICE_NUM processes, logs: $LOG_DIR/mpirun/1/rank.<rank>/stdout"
    mpirun -n "$DEVICE_NUM" --output-filename "$LOG_DIR/mpirun" --merge-stderr-to-stdout \
           "$PYTHON" "$ROOT/train.py" "${ARGS[@]}"
    ;;
  *.json)
    RANK_TABLE_FILE=$(abspath "$LAUNCHER")
    [ -f "$RANK_TABLE_FILE" ] || { echo "rank table not found: $RANK_TABLE_FILE"; exit 1; }
    [ "$DEVICE_TARGET" = "Ascend" ] || { echo "a rank table is for Ascend; use msrun or mpirun on $DEVICE_TARGET"; exit 1; }
    export RANK_TABLE_FILE RANK_SIZE="$DEVICE_NUM"
    DEVICE_START=${DEVICE_START:-0}
    PIDS=()
    for ((rank = 0; rank < DEVICE_NUM; rank++)); do
      echo "rank $rank on device $((DEVICE_START + rank)), log: $LOG_DIR/rank_$rank.log"
      RANK_ID=$rank DEVICE_ID=$((DEVICE_START + rank)) \
        "$PYTHON" "$ROOT/train.py" "${ARGS[@]}" > "$LOG_DIR/rank_$rank.log" 2>&1 &
      PIDS+=($!)
    done
    STATUS=0
    for pid in "${PIDS[@]}"; do wait "$pid" || STATUS=1; done
    exit $STATUS
    ;;
  *)
    echo "LAUNCHER must be msrun, mpirun or a rank table .json, got '$LAUNCHER'"; usage; exit 1
    ;;
esac
