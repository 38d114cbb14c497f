#!/bin/bash
# Offline inference with the C++ application: compile -> preprocess -> infer -> accuracy, each step checked.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_infer_310.sh DEVICE_TARGET CONFIG_PATH MODEL_FILE OUTPUT_DIR [--key value ...]
  DEVICE_TARGET  Ascend (310/310P, MindSpore Lite cloud inference) | CPU (verification with MindSpore Lite on CPU)
  CONFIG_PATH    the model's yaml (num_segments, crop_size, scale_size, input_dtype, data keys)
  MODEL_FILE     Ascend: the MINDIR of export.py --batch_size 1 (or an .om of ATC);
                 CPU: the ONNX of export.py --file_format ONNX --batch_size 1 (converted here for MindSpore Lite)
  OUTPUT_DIR     build/ (the program), clips/ + labels.json, logits/ + latency.txt, acc.json, one log per step
  --key value    preprocess.py overrides: --data_root D --val_list V, and --input_dtype uint8 for a uint8 export
Environment: DEVICE_ID (default 0), PYTHON (python3 with MindSpore, for pre/postprocess; default python3),
LITE_PYTHON (CPU: the Python of MindSpore Lite, default <repo>/.venv-lite/bin/python from scripts/setup_lite_cpu.sh),
MINDSPORE_PATH / LITE_HOME (where the C++ runtime is, see ascend310_infer/build.sh).
Example (Ascend 310, uint8 clips):
  python export.py --config_path default_config.yaml --ckpt tsm.ckpt --batch_size 1 --input_dtype uint8 \\
      --device_target Ascend --output_dir /models
  LITE_HOME=/opt/mindspore-lite bash scripts/run_infer_310.sh Ascend default_config.yaml /models/tsm.mindir \\
      /runs/infer --data_root /data/ssv2/frames --val_list /data/ssv2/val_videofolder.txt --input_dtype uint8
USAGE
}

if [ $# -lt 4 ]; then usage; exit 1; fi
case "$1" in Ascend|CPU) ;; *) echo "DEVICE_TARGET must be Ascend or CPU, got '$1'"; usage; exit 1;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
DEVICE_TARGET=$1
CONFIG_PATH=$(abspath "$2")
MODEL_FILE=$(abspath "$3")
OUTPUT_DIR=$(abspath "$4")
shift 4
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
[ -f "$MODEL_FILE" ] || { echo "model file not found: $MODEL_FILE"; exit 1; }
DEVICE_ID=${DEVICE_ID:-0}
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || { echo "DEVICE_ID must be a number, got '$DEVICE_ID'"; exit 1; }
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }
MODEL_TYPE=mindir
case "$DEVICE_TARGET:$MODEL_FILE" in
  CPU:*.onnx) ;;
  CPU:*) echo "CPU mode takes the ONNX of export.py --file_format ONNX, got $MODEL_FILE"; exit 1;;
  Ascend:*.om) MODEL_TYPE=om;;
  Ascend:*.mindir) ;;
  Ascend:*) echo "Ascend mode takes a .mindir (export.py) or an .om (ATC), got $MODEL_FILE"; exit 1;;
esac
mkdir -p "$OUTPUT_DIR"

step() {  # step NAME COMMAND...: run, log to OUTPUT_DIR/NAME.log, stop the whole run if it fails
  local name=$1; shift
  echo "== $name (log: $OUTPUT_DIR/$name.log)"
  if ! "$@" > "$OUTPUT_DIR/$name.log" 2>&1; then
    tail -n 20 "$OUTPUT_DIR/$name.log"
    echo "$name failed; see $OUTPUT_DIR/$name.log"
    exit 1
  fi
}

if [ "$DEVICE_TARGET" = CPU ]; then
  LITE_PYTHON=${LITE_PYTHON:-$ROOT/.venv-lite/bin/python}
  [ -x "$LITE_PYTHON" ] || { echo "MindSpore Lite's Python not found: $LITE_PYTHON (run scripts/setup_lite_cpu.sh)"; exit 1; }
  BUILD_PYTHON=$LITE_PYTHON  # build.sh takes MINDSPORE_PATH / LITE_HOME first, then asks this Python's pip
  step convert "$LITE_PYTHON" "$ROOT/ascend310_infer/tools/convert_onnx_to_lite.py" "$MODEL_FILE" "$OUTPUT_DIR/model_lite"
  INFER_MODEL=$OUTPUT_DIR/model_lite.mindir
else
  BUILD_PYTHON=$PYTHON
  INFER_MODEL=$MODEL_FILE
fi
step compile env PYTHON="$BUILD_PYTHON" bash "$ROOT/ascend310_infer/build.sh" "$OUTPUT_DIR/build"
step preprocess "$PYTHON" "$ROOT/preprocess.py" --config_path "$CONFIG_PATH" --output_dir "$OUTPUT_DIR" "$@"
step infer "$OUTPUT_DIR/build/tsm_infer" --model_path="$INFER_MODEL" --model_type="$MODEL_TYPE" \
    --input_dir="$OUTPUT_DIR/clips" --output_dir="$OUTPUT_DIR/logits" --device_target="$DEVICE_TARGET" \
    --device_id="$DEVICE_ID"
cat "$OUTPUT_DIR/logits/latency.txt"
step accuracy "$PYTHON" "$ROOT/postprocess.py" --result_dir "$OUTPUT_DIR/logits" \
    --label_file "$OUTPUT_DIR/labels.json" --out "$OUTPUT_DIR/acc.json"
tail -n 1 "$OUTPUT_DIR/accuracy.log"
echo "metrics: $OUTPUT_DIR/acc.json"
