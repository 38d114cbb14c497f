#!/bin/bash
# The earlier name and argument order of scripts/run_infer_cpp.sh, kept working:
#   bash scripts/run_infer_310.sh DEVICE_TYPE CONFIG_PATH MODEL_PATH OUTPUT_DIR [--key value ...]
# runs   bash scripts/run_infer_cpp.sh MODEL_PATH CONFIG_PATH OUTPUT_DIR DEVICE_TYPE [--key value ...]
# (DEVICE_ID from the environment, default 0). See run_infer_cpp.sh --help.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 4 ]; then
  echo "Usage: bash scripts/run_infer_310.sh DEVICE_TYPE CONFIG_PATH MODEL_PATH OUTPUT_DIR [--key value ...]"
  echo "(the same as: bash scripts/run_infer_cpp.sh MODEL_PATH CONFIG_PATH OUTPUT_DIR DEVICE_TYPE [--key value ...])"
  exit 1
fi
exec bash "$HERE/run_infer_cpp.sh" "$3" "$2" "$4" "$1" "${@:5}"
