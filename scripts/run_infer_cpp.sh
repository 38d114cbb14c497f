#!/bin/bash
# Offline inference with the C++ application: [convert] -> compile -> preprocess -> infer -> accuracy, each step
# checked.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_infer_cpp.sh MODEL_PATH CONFIG_PATH OUTPUT_DIR DEVICE_TYPE [DEVICE_ID] [--key value ...]
  MODEL_PATH   Ascend: the MINDIR of export.py (batch 1), built by MindSpore Lite for Ascend 310/310P;
               CPU: the ONNX of export.py --file_format ONNX (converted here by MindSpore Lite's converter),
               or a .mindir the CPU runtime reads as it is (a converted model, or ms.export's with a Lite of the
               same version as the exporting MindSpore)
  CONFIG_PATH  the model's yaml (num_segments, crop_size, scale_size, data keys)
  OUTPUT_DIR   build/ (the program), clips/ + labels.json, logits/ + latency.txt, acc.json, one log per step
  DEVICE_TYPE  Ascend | CPU
  DEVICE_ID    Ascend device (default: \$DEVICE_ID, else 0)
  --key value  preprocess.py overrides: --data_root D --val_list V, and --input_dtype uint8 for a uint8 export
Environment:
  LITE_HOME (or MS_LITE_HOME)  an unpacked MindSpore Lite package (mindspore-lite-<version>-linux-<arch>): the
               program is compiled against its runtime/, and runtime/lib, runtime/third_party/*/ (or their lib/)
               and tools/converter/lib go on LD_LIBRARY_PATH. Required for Ascend (with CANN's set_env.sh sourced).
  MINDSPORE_PATH  instead of LITE_HOME: a folder holding include/api and lib/ (see ascend310_infer/build.sh)
  LITE_PYTHON  CPU: the Python of MindSpore Lite (converter, and the runtime when LITE_HOME is not set);
               default <repo>/.venv-lite/bin/python from scripts/setup_lite_cpu.sh
  PYTHON       python3 with MindSpore 2.10, for preprocess.py / postprocess.py (default python3)
Example (Ascend 310, uint8 clips):
  python export.py --config_path default_config.yaml --ckpt tsm.ckpt --input_dtype uint8 --device_target CPU \\
      --output_dir /models
  LITE_HOME=/opt/mindspore-lite bash scripts/run_infer_cpp.sh /models/tsm.mindir default_config.yaml /runs/infer \\
      Ascend 0 --data_root /data/ssv2/frames --val_list /data/ssv2/val_videofolder.txt --input_dtype uint8
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0;; esac
if [ $# -lt 4 ]; then usage; exit 1; fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lite_env.sh
source "$ROOT/scripts/lite_env.sh"
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
MODEL_PATH=$(abspath "$1")
CONFIG_PATH=$(abspath "$2")
OUTPUT_DIR=$(abspath "$3")
DEVICE_TYPE=$4
shift 4
DEVICE_ID=${DEVICE_ID:-0}
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then DEVICE_ID=$1; shift; fi
case "$DEVICE_TYPE" in
  Ascend|CPU) ;;
  *) echo "DEVICE_TYPE must be Ascend or CPU, got '$DEVICE_TYPE'"; usage; exit 1;;
esac
[[ "$DEVICE_ID" =~ ^[0-9]+$ ]] || { echo "DEVICE_ID must be a non-negative integer, got '$DEVICE_ID'"; exit 1; }
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
[ -f "$MODEL_PATH" ] || { echo "model file not found: $MODEL_PATH"; exit 1; }
case "$DEVICE_TYPE:$MODEL_PATH" in
  *.om) echo "OM models are not supported: MindSpore Lite's Model::Build takes MindIR only; give the MINDIR of" \
             "export.py (ascend310_infer/README.md)"; exit 1;;
  Ascend:*.mindir|CPU:*.mindir|CPU:*.onnx) ;;
  Ascend:*) echo "Ascend takes the .mindir of export.py, got $MODEL_PATH"; exit 1;;
  CPU:*) echo "CPU takes the .onnx of export.py --file_format ONNX or a .mindir, got $MODEL_PATH"; exit 1;;
esac
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }

# Where the C++ runtime comes from, and its libraries on LD_LIBRARY_PATH.
if [ -n "${LITE_HOME:-}" ] && [ -n "${MS_LITE_HOME:-}" ] && [ "$LITE_HOME" != "$MS_LITE_HOME" ]; then
  echo "LITE_HOME=$LITE_HOME and MS_LITE_HOME=$MS_LITE_HOME differ; set one of them"; exit 1
fi
LITE_HOME=${LITE_HOME:-${MS_LITE_HOME:-}}
LITE_PYTHON=${LITE_PYTHON:-$ROOT/.venv-lite/bin/python}
BUILD_ENV=()
if [ -n "${MINDSPORE_PATH:-}" ]; then
  [ -d "$MINDSPORE_PATH/lib" ] || { echo "MINDSPORE_PATH=$MINDSPORE_PATH has no lib/"; exit 1; }
  LIBRARY_DIRS=("$MINDSPORE_PATH/lib")
elif [ -n "$LITE_HOME" ]; then
  mapfile -t LIBRARY_DIRS < <(lite_library_dirs "$LITE_HOME") && [ ${#LIBRARY_DIRS[@]} -gt 0 ] || exit 1
  BUILD_ENV=(LITE_HOME="$LITE_HOME")
elif [ "$DEVICE_TYPE" = Ascend ]; then
  echo "Ascend needs the MindSpore Lite package for your CANN version: set LITE_HOME (or MS_LITE_HOME) to the" \
       "unpacked mindspore-lite-<version>-linux-<arch> folder (see ascend310_infer/README.md)"
  exit 1
else  # CPU verification with the mindspore-lite wheel of scripts/setup_lite_cpu.sh
  [ -x "$LITE_PYTHON" ] || { echo "no LITE_HOME / MS_LITE_HOME, and MindSpore Lite's Python not found:" \
                                  "$LITE_PYTHON (run scripts/setup_lite_cpu.sh, or set LITE_HOME)"; exit 1; }
  LITE_PACKAGE=$("$LITE_PYTHON" -c 'import os, mindspore_lite; print(os.path.dirname(mindspore_lite.__file__))') ||
    { echo "mindspore_lite does not import in $LITE_PYTHON (run scripts/setup_lite_cpu.sh)"; exit 1; }
  LIBRARY_DIRS=("$LITE_PACKAGE/lib")
  BUILD_ENV=(PYTHON="$LITE_PYTHON")  # build.sh asks this Python's pip where mindspore_lite is
fi
prepend_library_path "${LIBRARY_DIRS[@]}"
echo "LD_LIBRARY_PATH: ${LIBRARY_DIRS[*]} first"
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

INFER_MODEL=$MODEL_PATH
if [[ "$MODEL_PATH" == *.onnx ]]; then  # CPU: ONNX -> a MindIR of the Lite version at hand
  [ -x "$LITE_PYTHON" ] || { echo "converting ONNX needs MindSpore Lite's Python: $LITE_PYTHON not found" \
                                  "(run scripts/setup_lite_cpu.sh, or set LITE_PYTHON)"; exit 1; }
  step convert "$LITE_PYTHON" "$ROOT/ascend310_infer/tools/convert_onnx_to_lite.py" "$MODEL_PATH" \
      "$OUTPUT_DIR/model_lite"
  INFER_MODEL=$OUTPUT_DIR/model_lite.mindir
fi
step compile env "${BUILD_ENV[@]}" bash "$ROOT/ascend310_infer/build.sh" "$OUTPUT_DIR/build"
step preprocess "$PYTHON" "$ROOT/preprocess.py" --config_path "$CONFIG_PATH" --output_dir "$OUTPUT_DIR" "$@"
step infer "$OUTPUT_DIR/build/tsm_infer" --model_path="$INFER_MODEL" --input_dir="$OUTPUT_DIR/clips" \
    --output_dir="$OUTPUT_DIR/logits" --device_target="$DEVICE_TYPE" --device_id="$DEVICE_ID"
cat "$OUTPUT_DIR/logits/latency.txt"
step accuracy "$PYTHON" "$ROOT/postprocess.py" --result_dir "$OUTPUT_DIR/logits" \
    --label_file "$OUTPUT_DIR/labels.json" --out "$OUTPUT_DIR/acc.json"
tail -n 1 "$OUTPUT_DIR/accuracy.log"
echo "metrics: $OUTPUT_DIR/acc.json"
