#!/bin/bash
# Build the TSM offline-inference application (Release) against MindSpore Lite or a MindSpore inference package.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash ascend310_infer/build.sh [BUILD_DIR]
  BUILD_DIR  CMake build folder (default: ascend310_infer/build); the program is BUILD_DIR/tsm_infer
Where the C++ runtime is looked for, first match wins (a folder holding include/api/model.h and lib/<runtime>.so):
  MINDSPORE_PATH   that folder itself (an unpacked inference package's runtime/, a mindspore_lite/ package, ...)
  LITE_HOME        an unpacked MindSpore Lite package (mindspore-lite-<version>-linux-<arch>): uses LITE_HOME/runtime
  pip              'pip show mindspore-lite', then 'pip show mindspore' of \$PYTHON (default python3)
Runtime libraries tried in lib/: ${LIBRARIES[*]}
Environment: USE_CXX11_ABI=1 for a runtime built with the C++11 std::string ABI (MindSpore Lite's is not);
  CXX_STANDARD=14|17 (default 17; the sources are C++14, so GCC 7.3 of the Ascend toolkits suffices);
  STRICT=1 for -Werror -pedantic-errors (CXX_STANDARD=14 STRICT=1 is the check the tests run).
The last line printed is the path of the program.
USAGE
}

LIBRARIES=(libmindspore-lite.so libmindspore-extendrt.so libmindspore-extendrt_python.so libmindspore.so)
case "${1:-}" in -h|--help) usage; exit 0;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CXX_STANDARD=${CXX_STANDARD:-17}
case "$CXX_STANDARD" in 14|17) ;; *) echo "CXX_STANDARD must be 14 or 17, got '$CXX_STANDARD'" >&2; exit 1;; esac
STRICT=$([ "${STRICT:-0}" = 1 ] && echo ON || echo OFF)
BUILD_DIR=${1:-$HERE/build}
CHECKED=()

runtime_library() {  # $1: candidate root; sets LIBRARY, or returns 1 noting what is missing
  local root=$1 lib
  if [ ! -f "$root/include/api/model.h" ]; then
    CHECKED+=("$root: no include/api/model.h"); return 1
  fi
  for lib in "${LIBRARIES[@]}"; do
    [ -f "$root/lib/$lib" ] && { LIBRARY=$root/lib/$lib; return 0; }
  done
  CHECKED+=("$root: has include/api but none of lib/{$(IFS=,; echo "${LIBRARIES[*]}")}"); return 1
}

pip_location() {  # $1: distribution name; sets LOCATION to its site-packages folder
  local python=${PYTHON:-python3}
  command -v "$python" >/dev/null || { CHECKED+=("pip: no interpreter '$python'"); return 1; }
  LOCATION=$("$python" -m pip show "$1" 2>/dev/null | sed -n 's/^Location: //p')
  [ -n "$LOCATION" ] || { CHECKED+=("pip ($python): $1 not installed"); return 1; }
}

find_runtime() {  # sets ROOT and LIBRARY
  local candidates=() root
  [ -n "${MINDSPORE_PATH:-}" ] && candidates+=("$MINDSPORE_PATH")
  [ -n "${LITE_HOME:-}" ] && candidates+=("$LITE_HOME/runtime")
  if [ ${#candidates[@]} -eq 0 ]; then
    pip_location mindspore-lite && candidates+=("$LOCATION/mindspore_lite")
    pip_location mindspore && candidates+=("$LOCATION/mindspore")
  fi
  for root in "${candidates[@]}"; do
    runtime_library "$root" && { ROOT=$root; return 0; }
  done
  return 1
}

if ! find_runtime; then
  echo "no MindSpore C++ runtime found. Checked:" >&2
  printf '  %s\n' "${CHECKED[@]}" >&2
  cat >&2 <<HINT
Install one of (see ascend310_infer/README.md):
  - Ascend 310/310P: the MindSpore Lite cloud-inference package for your CANN version, then LITE_HOME=<its folder>
    (since MindSpore 2.2 the mindspore wheel has no Ascend 310 C++ inference API);
  - CPU verification: bash scripts/setup_lite_cpu.sh, then PYTHON=.venv-lite/bin/python (or MINDSPORE_PATH).
HINT
  exit 1
fi
command -v cmake >/dev/null || { echo "cmake not found (apt-get install cmake, or pip install cmake)" >&2; exit 1; }
command -v "${CXX:-g++}" >/dev/null || { echo "C++ compiler '${CXX:-g++}' not found (needs C++14: g++)" >&2; exit 1; }

echo "MindSpore C++ API: $ROOT/include/api, runtime $LIBRARY; C++$CXX_STANDARD, strict $STRICT"
ABI=$([ "${USE_CXX11_ABI:-0}" = 1 ] && echo ON || echo OFF)
mkdir -p "$BUILD_DIR"
cmake -S "$HERE" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMINDSPORE_ROOT="$ROOT" -DMINDSPORE_LIBRARY="$LIBRARY" \
      -DUSE_CXX11_ABI="$ABI" -DTSM_CXX_STANDARD="$CXX_STANDARD" -DTSM_STRICT="$STRICT" \
      > "$BUILD_DIR/configure.log" 2>&1 || { cat "$BUILD_DIR/configure.log" >&2; exit 1; }
cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)"
echo "$BUILD_DIR/tsm_infer"
