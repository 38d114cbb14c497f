#!/bin/bash
# Set up MindSpore Lite 2.0.0 for the CPU verification of the offline-inference flow (idempotent).
# The registry's only mindspore-lite is a cp37 wheel: it needs Python 3.7, so it lives in its own venv.
# It provides the ONNX -> Lite model converter (Python) and, for the C++ application, include/api plus
# lib/libmindspore-extendrt_python.so (see ascend310_infer/README.md).
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/setup_lite_cpu.sh [VENV_DIR]
  VENV_DIR  where to create the Python 3.7 venv (default: <repo>/.venv-lite)
Environment: PYTHON37 (a Python 3.7 interpreter; default: pyenv's newest 3.7, then python3.7 on PATH).
Prints the venv directory on its last line. Running it again changes nothing when all is in place.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-$ROOT/.venv-lite}
LITE_VERSION=2.0.0

find_python37() {
  if [ -n "${PYTHON37:-}" ]; then command -v "$PYTHON37" && return 0; echo "PYTHON37=$PYTHON37 not found" >&2; return 1; fi
  local root=${PYENV_ROOT:-$HOME/.pyenv} candidate candidates
  candidates=("$root"/versions/3.7.*)  # a glob, so paths with spaces stay whole; unmatched: the pattern itself
  mapfile -t candidates < <(printf '%s\n' "${candidates[@]}" | sort -V -r)  # newest first
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate/bin/python3.7" ] && { echo "$candidate/bin/python3.7"; return 0; }
  done
  command -v python3.7 && return 0
  echo "Python 3.7 not found (looked in $root/versions/3.7.* and on PATH); install it (e.g. pyenv install 3.7.16)" \
       "or set PYTHON37" >&2
  return 1
}

lite_ready() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import mindspore_lite, numpy' 2>/dev/null &&
    [ "$("$VENV/bin/python" -m pip show mindspore-lite 2>/dev/null | sed -n 's/^Version: //p')" = "$LITE_VERSION" ]
}

if lite_ready; then
  echo "MindSpore Lite $LITE_VERSION already set up"
else
  PY37=$(find_python37)
  echo "creating $VENV with $PY37"
  [ -x "$VENV/bin/python" ] || "$PY37" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q "mindspore-lite==$LITE_VERSION" "numpy<1.22"
  lite_ready || { echo "mindspore-lite $LITE_VERSION does not import in $VENV"; exit 1; }
fi
LITE_ROOT=$("$VENV/bin/python" -c 'import os, mindspore_lite; print(os.path.dirname(mindspore_lite.__file__))')
[ -f "$LITE_ROOT/include/api/model.h" ] || { echo "no include/api/model.h in $LITE_ROOT"; exit 1; }
ls "$LITE_ROOT"/lib/libmindspore-extendrt*.so >/dev/null 2>&1 || { echo "no lib/libmindspore-extendrt*.so in $LITE_ROOT"; exit 1; }
echo "$VENV"
