#!/bin/bash
# Train on one device. Runs in the foreground; the log goes to OUTPUT_DIR/train.log (and the console).
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_standalone_train.sh DEVICE_TARGET CONFIG_PATH OUTPUT_DIR [--key value ...]
  DEVICE_TARGET  Ascend | GPU | CPU
  CONFIG_PATH    a yaml of config keys (default_config.yaml, configs/*.yaml)
  OUTPUT_DIR     checkpoints, train_log.jsonl, config.yaml and train.log go here
  --key value    further train.py overrides, e.g. --data_root /data/ssv2/frames --train_list ... --val_list ...
Environment: DEVICE_ID (default 0), PYTHON (default: python3 from PATH).
Example:
  bash scripts/run_standalone_train.sh Ascend default_config.yaml /runs/tsm_r50 \\
      --data_root /data/ssv2/frames --train_list /data/ssv2/train_videofolder.txt \\
      --val_list /data/ssv2/val_videofolder.txt --pretrained /models/resnet50-0676ba61.pth
USAGE
}

if [ $# -lt 3 ]; then usage; exit 1; fi
case "$1" in Ascend|GPU|CPU) ;; *) echo "DEVICE_TARGET must be Ascend, GPU or CPU, got '$1'"; usage; exit 1;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
DEVICE_TARGET=$1
CONFIG_PATH=$(abspath "$2")
OUTPUT_DIR=$(abspath "$3")
shift 3
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
DEVICE_ID=${DEVICE_ID:-0}
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || { echo "DEVICE_ID must be a number, got '$DEVICE_ID'"; exit 1; }
PYTHON=${PYTHON:-python3}
mkdir -p "$OUTPUT_DIR"

export DEVICE_ID
# One process: an inherited distributed launch (RANK_SIZE=8, a rank table, msrun's variables) must not apply.
unset RANK_TABLE_FILE MS_WORKER_NUM MS_ROLE MS_SCHED_HOST MS_SCHED_PORT OMPI_COMM_WORLD_SIZE
export RANK_SIZE=1 RANK_ID=0
echo "training on $DEVICE_TARGET:$DEVICE_ID, log: $OUTPUT_DIR/train.log"
"$PYTHON" "$ROOT/train.py" --config_path "$CONFIG_PATH" --device_target "$DEVICE_TARGET" \
    --output_dir "$OUTPUT_DIR" "$@" 2>&1 | tee "$OUTPUT_DIR/train.log"
exit "${PIPESTATUS[0]}"
