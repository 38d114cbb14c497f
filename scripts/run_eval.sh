#!/bin/bash
# Evaluate a checkpoint on the whole validation list; metrics and per-video top-5 in OUTPUT_DIR/eval_results.json.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_eval.sh DEVICE_TARGET CONFIG_PATH CKPT OUTPUT_DIR [--key value ...]
  DEVICE_TARGET  Ascend | GPU | CPU
  CONFIG_PATH    the yaml the model was trained with (arch, depth, num_classes, num_segments, data keys)
  CKPT           the Hub .ckpt, an official TSM .pth (converted or not), or a checkpoint of train.py
  OUTPUT_DIR     eval.log (eval_<rank>.log / worker_<rank>.log when distributed) and eval_results.json
  --key value    overrides; protocols: --num_clips 1|2 --num_crops 1|3 --crop_size 224|256 --scale_size 256,
                 or --eval_protocol zoo_r17 (model zoo r1.7's, which measured the Hub file's 58.0 / 85.0)
Environment: DEVICE_ID (default 0), DEVICE_NUM (default 1; > 1 runs msrun, the set is split across
devices and the results all-reduced), PYTHON (default python3 from PATH), MASTER_PORT (msrun, default 8119).
Example (2 clips x 3 crops of 256):
  bash scripts/run_eval.sh Ascend default_config.yaml /models/tsm_r50_sthv2.ckpt /runs/eval \\
      --data_root /data/ssv2/frames --val_list /data/ssv2/val_videofolder.txt \\
      --num_clips 2 --num_crops 3 --crop_size 256 --scale_size 256
Example (the Hub checkpoint as model zoo r1.7 measured it; DEVICE_NUM=8 in front for 8 devices):
  bash scripts/run_eval.sh Ascend configs/datasets/sthv2_frames.yaml \\
      tsm_ascend_v170_somethingsomethingv2_research_cv_top1acc58.0_top5acc85.0.ckpt /runs/eval_hub \\
      --eval_protocol zoo_r17
USAGE
}

if [ $# -lt 4 ]; then usage; exit 1; fi
case "$1" in Ascend|GPU|CPU) ;; *) echo "DEVICE_TARGET must be Ascend, GPU or CPU, got '$1'"; usage; exit 1;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
DEVICE_TARGET=$1
CONFIG_PATH=$(abspath "$2")
CKPT=$(abspath "$3")
OUTPUT_DIR=$(abspath "$4")
shift 4
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
[ -f "$CKPT" ] || { echo "checkpoint not found: $CKPT"; exit 1; }
DEVICE_NUM=${DEVICE_NUM:-1}
[[ "$DEVICE_NUM" =~ ^[1-9][0-9]*$ ]] || { echo "DEVICE_NUM must be a positive number, got '$DEVICE_NUM'"; exit 1; }
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }
export PATH="$(dirname "$PYTHON"):$PATH"
mkdir -p "$OUTPUT_DIR"
ARGS=(--config_path "$CONFIG_PATH" --device_target "$DEVICE_TARGET" --ckpt "$CKPT" --output_dir "$OUTPUT_DIR"
      --out "$OUTPUT_DIR/eval_results.json" "$@")

if [ "$DEVICE_NUM" -gt 1 ]; then
  echo "msrun: $DEVICE_NUM workers, logs: $OUTPUT_DIR/log/worker_<rank>.log"
  msrun --worker_num="$DEVICE_NUM" --local_worker_num="$DEVICE_NUM" --master_port="${MASTER_PORT:-8119}" \
        --log_dir="$OUTPUT_DIR/log" --join=True "$ROOT/eval.py" "${ARGS[@]}"
else
  export DEVICE_ID=${DEVICE_ID:-0}
  # One process: an inherited distributed launch (RANK_SIZE=8, a rank table, msrun's variables) must not apply.
  unset RANK_TABLE_FILE MS_WORKER_NUM MS_ROLE MS_SCHED_HOST MS_SCHED_PORT OMPI_COMM_WORLD_SIZE
  export RANK_SIZE=1 RANK_ID=0
  "$PYTHON" "$ROOT/eval.py" "${ARGS[@]}" 2>&1 | tee "$OUTPUT_DIR/eval.log"
  exit "${PIPESTATUS[0]}"
fi
