#!/bin/bash
# Export a checkpoint for deployment with export.py (batch 1 unless --batch_size is given), arguments checked first.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_export.sh CKPT_PATH FILE_FORMAT OUTPUT_DIR DEVICE_TARGET [DEVICE_ID] [--key value ...]
  CKPT_PATH      the checkpoint: the Hub .ckpt, an official TSM .pth, or one of ours
  FILE_FORMAT    MINDIR (MindSpore Lite, Ascend 310/310P and CPU) | ONNX | AIR (deprecated; needs Ascend)
  OUTPUT_DIR     written: OUTPUT_DIR/<file_name>.<mindir|onnx|air> (file_name: tsm, or --file_name) and export.log
  DEVICE_TARGET  Ascend | GPU | CPU: where export.py builds the graph (a MINDIR from CPU runs on Ascend too)
  DEVICE_ID      default: \$DEVICE_ID, else 0
  --key value    export.py config keys, e.g. --config_path configs/x.yaml --input_dtype uint8 --batch_size 4
Environment: PYTHON (python3 with MindSpore 2.10; default python3).
Example: bash scripts/run_export.sh tsm_r50_sthv2.ckpt MINDIR /models CPU --input_dtype uint8
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0;; esac
if [ $# -lt 4 ]; then usage; exit 1; fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
CKPT_PATH=$(abspath "$1")
FILE_FORMAT=$2
OUTPUT_DIR=$(abspath "$3")
DEVICE_TARGET=$4
shift 4
DEVICE_ID=${DEVICE_ID:-0}
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then DEVICE_ID=$1; shift; fi
[ -f "$CKPT_PATH" ] || { echo "checkpoint not found: $CKPT_PATH"; exit 1; }
case "$FILE_FORMAT" in
  MINDIR|ONNX|AIR) ;;
  *) echo "FILE_FORMAT must be MINDIR, ONNX or AIR, got '$FILE_FORMAT'"; exit 1;;
esac
case "$DEVICE_TARGET" in
  Ascend|GPU|CPU) ;;
  *) echo "DEVICE_TARGET must be Ascend, GPU or CPU, got '$DEVICE_TARGET'"; exit 1;;
esac
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || { echo "DEVICE_ID must be a non-negative integer, got '$DEVICE_ID'"; exit 1; }
if [ "$FILE_FORMAT" = AIR ] && [ "$DEVICE_TARGET" != Ascend ]; then
  echo "AIR export needs DEVICE_TARGET Ascend (AIR is deprecated in MindSpore 2.x; MINDIR is what MindSpore Lite runs)"
  exit 1
fi
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }
mkdir -p "$OUTPUT_DIR"
echo "exporting $CKPT_PATH as $FILE_FORMAT on $DEVICE_TARGET (DEVICE_ID $DEVICE_ID) to $OUTPUT_DIR" \
     "(log: $OUTPUT_DIR/export.log)"
status=0
DEVICE_ID=$DEVICE_ID "$PYTHON" "$ROOT/export.py" --ckpt "$CKPT_PATH" --file_format "$FILE_FORMAT" \
    --output_dir "$OUTPUT_DIR" --device_target "$DEVICE_TARGET" "$@" > "$OUTPUT_DIR/export.log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
  tail -n 20 "$OUTPUT_DIR/export.log"
  echo "export failed (exit $status); see $OUTPUT_DIR/export.log"
  exit $status
fi
grep 'exported ' "$OUTPUT_DIR/export.log" | tail -n 1
